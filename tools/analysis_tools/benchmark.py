#!/usr/bin/env python
"""Throughput of MixMo against the vanilla network on the same backbone.

::

    python tools/analysis_tools/benchmark.py CONFIG [--batch-size B]
        [--repeats R] [--warmup W] [--iters N] [--img-size S]
        [--device {cpu,cuda}] [--amp] [--infer-mode {predict,tensor}]
        [--no-memory] [--threads N] [--seed S] [--cfg-options KEY=VALUE ...]

``CONFIG`` is a MixMo config (``model.type='MixMoClassifier'``). The script
builds that model and derives the vanilla counterpart from the same config
(:func:`vanilla_model_cfg`): an mmpretrain ``ImageClassifier`` with the same
backbone config (its first convolution kept in place), the same neck, a
``LinearClsHead(num_classes, in_channels)`` with the MixMo head's values and
a ``ClsDataPreprocessor`` with the same normalisation. Both get the same
synthetic batch of ``B`` slots (uint8 images already on the device, one
label each), so the backbone and the batch are identical and only MixMo's
own costs differ.

What is timed (wall clock; on CUDA with ``torch.cuda.synchronize()`` before
starting and before stopping the clock):

- **train**: ``model.train_step(batch, optim_wrapper)`` as the mmengine
  runner calls it: the data preprocessor in training mode (normalisation;
  for MixMo also the member pairing, the optional pixel mixing and the new
  per-slot ``DataSample`` objects, which are MixMo's cost), ``forward(mode=
  'loss')``, loss summation, ``backward``, the optimizer step (the config's
  ``optim_wrapper``, i.e. SGD for the paper recipes) and ``zero_grad``.
  Not timed: data loading and the train pipeline (decoding, crops, flips),
  the host-to-device copy, hooks, logging and the lr schedule.
- **inference**: eval mode under ``torch.no_grad()``: the data preprocessor
  in test mode (normalisation) and ``forward(mode='predict')`` (default: the
  scores and ``DataSample`` outputs, for MixMo the ensemble of the M heads)
  or ``forward(mode='tensor')`` (logits only) on ``(B, C, H, W)`` images.
  MixMo feeds the image to its folded encoder
  (:meth:`~mmmixmo.models.utils.MemberEncoders.forward_folded`).

Every repeat times ``--iters`` consecutive steps of each model, vanilla
first in even repeats and MixMo first in odd ones, after ``--warmup``
untimed steps of each. The table gives the median images/s over repeats and
the **time ratio MixMo / vanilla**, the median over repeats of the ratio of
the two times measured in the same repeat (paired, which cancels slow drifts
of a shared machine); **a ratio > 1 means MixMo is slower**. The targets of
the project are <= 1.10 for a training step at equal batch slots and
<= 1.01 for inference with the folded encoders.

Peak memory (one extra, untimed step of each model after the timing) is
reported the same way on both devices: the bytes of the model's state at the
start of the step (parameters, buffers, gradients and optimizer state,
distinct storages) plus the peak of extra tensor memory allocated during the
step, i.e. on CUDA ``torch.cuda.max_memory_allocated()`` minus
``torch.cuda.memory_allocated()`` at the start, on the CPU the peak of the
running sum of the CPU allocations and frees recorded by
``torch.profiler`` (``profile_memory=True``). It therefore counts live
tensors only: not the caching of the CUDA allocator or of ``malloc``, nor
non-tensor memory. Process RSS is not used because its high-water mark
cannot be reset between the two models and it mostly reflects ``malloc``'s
caching.

With ``--amp``: on CUDA mmengine's ``AmpOptimWrapper`` (float16 autocast
and loss scaling, as ``tools/train.py --amp``) and float16 autocast for
inference; on the CPU (where ``AmpOptimWrapper`` is unavailable) bfloat16
``torch.autocast`` around the whole step, without loss scaling.

Like ``tools/train.py`` it imports :mod:`mmmixmo` from an install or from
this checkout.
"""
import argparse
import copy
import functools
import importlib.util
import logging
import math
import os
import os.path as osp
import platform
import statistics
import sys
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if importlib.util.find_spec('mmmixmo') is None:
    # Not installed: use the package of the checkout this script belongs to.
    sys.path.insert(0, REPO_ROOT)

import mmmixmo  # noqa: E402,F401
import torch  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.optim import build_optim_wrapper  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmpretrain.registry import MODELS  # noqa: E402
from mmpretrain.structures import DataSample  # noqa: E402
from torch import nn  # noqa: E402

from mmmixmo.models.classifiers import MixMoClassifier  # noqa: E402

MODEL_NAMES = ('vanilla', 'mixmo')
PHASES = ('train', 'inference')
TABLE_COLUMNS = ('phase', 'model', 'img/s (median)', 'ms/iter (median)',
                 'time ratio MixMo/vanilla', 'ratio min-max',
                 'peak mem (MiB)')
TARGETS = dict(train=1.10, inference=1.01)
# MixMoDataPreprocessor arguments that ClsDataPreprocessor does not take.
_MIXMO_PREPROCESSOR_KEYS = ('type', 'num_members', 'input_repetition_prob',
                            'pixel_mix')
# Transforms whose argument gives the network's input size, last one wins.
_SIZE_TRANSFORMS = dict(
    RandomCrop='crop_size',
    RandomResizedCrop='scale',
    CenterCrop='crop_size',
    Resize='scale')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Images/s and peak memory of a training step and of '
        'inference, MixMo vs the vanilla classifier on the same backbone '
        'and batch.')
    parser.add_argument('config', help='path of a MixMo config file')
    parser.add_argument(
        '--batch-size',
        type=int,
        help='batch slots B of both models; defaults to '
        'train_dataloader.batch_size of the config')
    parser.add_argument(
        '--repeats',
        type=int,
        default=5,
        help='interleaved timed repeats per model and phase (default 5)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=1,
        help='untimed steps per model and phase before timing (default 1)')
    parser.add_argument(
        '--iters',
        type=int,
        default=1,
        help='consecutive steps timed in one repeat (default 1; use more on '
        'a GPU, where one step is short)')
    parser.add_argument(
        '--img-size',
        type=int,
        help='image side; defaults to the crop/resize size of the train '
        'pipeline of the config')
    parser.add_argument(
        '--device',
        choices=('cpu', 'cuda'),
        default='cuda' if torch.cuda.is_available() else 'cpu',
        help='default: cuda if available, else cpu')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='mixed precision: float16 + loss scaling on CUDA, bfloat16 '
        'autocast on the CPU')
    parser.add_argument(
        '--infer-mode',
        choices=('predict', 'tensor'),
        default='predict',
        help="forward mode timed for inference (default 'predict')")
    parser.add_argument(
        '--no-memory',
        action='store_true',
        help='skip the peak memory measurement')
    parser.add_argument(
        '--threads',
        type=int,
        help='torch intra-op CPU threads (torch.set_num_threads); default: '
        "torch's. On a loaded machine 1 thread gives far steadier times")
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of weights and batch')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file. If the value to '
        'be overwritten is a list, it should be like key="[a,b]" or '
        'key=a,b It also allows nested list/tuple values, e.g. '
        'key="[(a,b),(c,d)]" Note that the quotation marks are necessary '
        'and that no white space is allowed.')
    args = parser.parse_args(argv)
    for name in ('batch_size', 'repeats', 'iters', 'img_size', 'threads'):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, '
                         f'got {value}')
    if args.warmup < 0:
        parser.error(f'--warmup must be >= 0, got {args.warmup}')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: CUDA is not available')
    return args


def build_config(args: argparse.Namespace) -> Config:
    """Load the config and merge ``--cfg-options``."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def mixmo_model_cfg(cfg: Config) -> ConfigDict:
    """The MixMo model config, with the runner's top-level preprocessor.

    Like mmengine's ``Runner``, a top-level ``data_preprocessor`` of the
    config fills ``model.data_preprocessor`` when the model has none.

    Args:
        cfg (Config): The full config.

    Returns:
        ConfigDict: A copy of ``cfg.model``.
    """
    model_cfg = copy.deepcopy(cfg.model)
    model_type = model_cfg.get('type')
    model_cls = MODELS.get(model_type) if isinstance(model_type,
                                                     str) else model_type
    if not (isinstance(model_cls, type)
            and issubclass(model_cls, MixMoClassifier)):
        raise ValueError(
            f'model.type={model_type!r}: the benchmark compares a '
            'MixMoClassifier config with its vanilla counterpart; pass a '
            'config of configs/mixmo/')
    if model_cfg.get('data_preprocessor') is None and cfg.get(
            'data_preprocessor') is not None:
        model_cfg.data_preprocessor = copy.deepcopy(cfg.data_preprocessor)
    return model_cfg


def vanilla_model_cfg(model_cfg: dict) -> ConfigDict:
    """Derive the vanilla single network from a MixMo model config.

    The vanilla model is an mmpretrain ``ImageClassifier`` with

    - ``backbone``: the MixMo backbone config unchanged (the vanilla network
      keeps its first convolution, which MixMo turns into M encoders);
    - ``neck``: the MixMo neck (``GlobalAveragePooling`` when the key is
      absent, as in :class:`MixMoClassifier`; none when it is None);
    - ``head``: ``LinearClsHead(num_classes, in_channels)`` with the values
      of ``model.head`` and a cross-entropy loss;
    - ``data_preprocessor``: ``ClsDataPreprocessor`` with the MixMo
      preprocessor's arguments minus the MixMo ones (``num_members``,
      ``input_repetition_prob``, ``pixel_mix``), i.e. the same
      normalisation.

    Args:
        model_cfg (dict): The MixMo model config (``model``).

    Returns:
        ConfigDict: The vanilla model config.
    """
    head = model_cfg.get('head') or {}
    missing = [
        key for key in ('num_classes', 'in_channels') if key not in head
    ]
    if missing:
        raise ValueError(f'model.head needs {missing} to derive the vanilla '
                         'LinearClsHead')
    preprocessor = dict(copy.deepcopy(model_cfg.get('data_preprocessor')
                                      or {}))
    for key in _MIXMO_PREPROCESSOR_KEYS:
        preprocessor.pop(key, None)
    preprocessor['type'] = 'ClsDataPreprocessor'
    return ConfigDict(
        type='ImageClassifier',
        backbone=copy.deepcopy(model_cfg['backbone']),
        neck=copy.deepcopy(
            model_cfg.get('neck', dict(type='GlobalAveragePooling'))),
        head=dict(
            type='LinearClsHead',
            num_classes=head['num_classes'],
            in_channels=head['in_channels'],
            loss=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        data_preprocessor=preprocessor)


def _size_of(value) -> Optional[Tuple[int, int]]:
    """``(H, W)`` from a transform's size argument (int or (w, h))."""
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) for v in value):
        return value[1], value[0]  # mmcv sizes are (w, h)
    return None


def infer_img_size(cfg: Config) -> Tuple[int, int]:
    """Read the train input size ``(H, W)`` from the train pipeline.

    The last ``RandomCrop``/``CenterCrop`` (``crop_size``) or
    ``RandomResizedCrop``/``Resize`` (``scale``) of
    ``train_dataloader.dataset.pipeline`` (also inside dataset wrappers
    with a ``dataset`` key) gives the size.

    Args:
        cfg (Config): The full config.

    Returns:
        tuple[int, int]: ``(H, W)``.
    """
    dataset = cfg.get('train_dataloader', {}).get('dataset', {})
    size = None
    while isinstance(dataset, dict):
        for transform in dataset.get('pipeline', None) or []:
            key = _SIZE_TRANSFORMS.get(transform.get('type'))
            if key is not None and _size_of(transform.get(key)):
                size = _size_of(transform.get(key))
        if size is not None:
            return size
        dataset = dataset.get('dataset')
    raise ValueError(
        'cannot read the image size from train_dataloader.dataset.pipeline '
        '(no RandomCrop/RandomResizedCrop/CenterCrop/Resize); pass '
        '--img-size')


def build_models(cfg: Config, device: torch.device,
                 seed: int) -> Dict[str, nn.Module]:
    """Build and initialise the MixMo model and its vanilla counterpart.

    Args:
        cfg (Config): The full config.
        device (torch.device): Where to put the models.
        seed (int): Seed of the initialisation.

    Returns:
        dict[str, nn.Module]: ``{'vanilla': ..., 'mixmo': ...}``.
    """
    mixmo_cfg = mixmo_model_cfg(cfg)
    cfgs = dict(vanilla=vanilla_model_cfg(mixmo_cfg), mixmo=mixmo_cfg)
    models = {}
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)  # no per-parameter init report
    try:
        for name in MODEL_NAMES:
            torch.manual_seed(seed)
            model = MODELS.build(cfgs[name])
            model.init_weights()
            models[name] = model.to(device)
    finally:
        logger.setLevel(level)
    return models


def make_batch(batch_size: int, channels: int, img_size: Tuple[int, int],
               num_classes: int, device: torch.device,
               seed: int) -> dict:
    """A collated batch as the dataloader yields it, already on ``device``.

    Args:
        batch_size (int): Number of slots ``B``.
        channels (int): Image channels ``C``.
        img_size (tuple[int, int]): ``(H, W)``.
        num_classes (int): Labels are drawn in ``[0, num_classes)``.
        device (torch.device): Device of the images and labels.
        seed (int): Seed of the images and labels.

    Returns:
        dict: ``inputs`` uint8 ``(B, C, H, W)`` and ``data_samples`` (B
        :class:`DataSample` with a ``gt_label``).
    """
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randint(
        0, 256, (batch_size, channels, *img_size), generator=gen,
        dtype=torch.uint8)
    labels = torch.randint(0, num_classes, (batch_size, ), generator=gen)
    samples = [
        DataSample().set_gt_label(int(label)).to(device) for label in labels
    ]
    return dict(inputs=inputs.to(device), data_samples=samples)


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


class Step:
    """One timed unit of work of a model (a train step or an inference).

    Args:
        model (nn.Module): The classifier.
        phase (str): ``'train'`` or ``'inference'``.
        batch (dict): The collated batch (see :func:`make_batch`).
        optim_cfg (dict): ``optim_wrapper`` config (training only).
        amp (bool): Mixed precision (see the module docstring).
        infer_mode (str): Forward mode for inference.
    """

    def __init__(self, model: nn.Module, phase: str, batch: dict,
                 optim_cfg: dict, amp: bool, infer_mode: str) -> None:
        self.model = model
        self.phase = phase
        self.batch = batch
        self.infer_mode = infer_mode
        self.device = next(model.parameters()).device
        self.optim_wrapper = None
        autocast: Callable = nullcontext
        if amp and self.device.type == 'cpu':
            autocast = functools.partial(
                torch.autocast, 'cpu', dtype=torch.bfloat16)
        elif amp and phase == 'inference':
            autocast = functools.partial(
                torch.autocast, self.device.type, dtype=torch.float16)
        self.autocast = autocast
        if phase == 'train':
            optim_cfg = copy.deepcopy(optim_cfg)
            if amp and self.device.type == 'cuda':
                optim_cfg['type'] = 'AmpOptimWrapper'
                optim_cfg.setdefault('loss_scale', 'dynamic')
            self.optim_wrapper = build_optim_wrapper(model, optim_cfg)

    def prepare(self) -> None:
        """Put the model in the phase's mode (not timed)."""
        self.model.train(self.phase == 'train')

    def __call__(self) -> None:
        """Run the step once."""
        if self.phase == 'train':
            with self.autocast():
                self.model.train_step(self.batch, self.optim_wrapper)
            return
        with torch.no_grad(), self.autocast():
            data = self.model.data_preprocessor(self.batch, False)
            self.model(**data, mode=self.infer_mode)

    def state_bytes(self) -> int:
        """Bytes of parameters, buffers, gradients and optimizer state."""
        tensors = list(self.model.parameters()) + list(self.model.buffers())
        tensors += [p.grad for p in self.model.parameters()
                    if p.grad is not None]
        if self.optim_wrapper is not None:
            for state in self.optim_wrapper.optimizer.state.values():
                tensors += [v for v in state.values()
                            if isinstance(v, torch.Tensor)]
        storages = {}
        for tensor in tensors:
            storage = tensor.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
        return sum(storages.values())


def time_steps(step: Step, iters: int) -> float:
    """Seconds taken by ``iters`` consecutive runs of ``step``."""
    step.prepare()
    _synchronize(step.device)
    start = time.perf_counter()
    for _ in range(iters):
        step()
    _synchronize(step.device)
    return time.perf_counter() - start


def peak_step_bytes(step: Step) -> int:
    """Peak tensor memory of one run of ``step`` (see the module docstring).

    Args:
        step (Step): The step; run once more, untimed.

    Returns:
        int: Model state bytes at the start plus the peak of the extra
        bytes allocated during the run.
    """
    step.prepare()
    state = step.state_bytes()
    if step.device.type == 'cuda':
        _synchronize(step.device)
        torch.cuda.reset_peak_memory_stats(step.device)
        start = torch.cuda.memory_allocated(step.device)
        step()
        _synchronize(step.device)
        extra = torch.cuda.max_memory_allocated(step.device) - start
        return state + max(extra, 0)
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        step()
    events = [
        event for event in prof.profiler.kineto_results.events()
        if event.name() == '[memory]'
        and event.device_type() == torch.autograd.DeviceType.CPU
    ]
    events.sort(key=lambda event: event.start_ns())
    current = peak = 0
    for event in events:
        current += event.nbytes()
        peak = max(peak, current)
    return state + peak


def interleaved_times(steps: Dict[str, Step], repeats: int, warmup: int,
                      iters: int) -> Dict[str, List[float]]:
    """Time the models' steps in alternating order.

    Args:
        steps (dict[str, Step]): ``{'vanilla': ..., 'mixmo': ...}``.
        repeats (int): Timed repeats per model.
        warmup (int): Untimed runs per model first.
        iters (int): Runs per timed repeat.

    Returns:
        dict[str, list[float]]: Seconds per repeat, per model.
    """
    for name in MODEL_NAMES:
        steps[name].prepare()
        for _ in range(warmup):
            steps[name]()
    times = {name: [] for name in MODEL_NAMES}
    for repeat in range(repeats):
        order = MODEL_NAMES if repeat % 2 == 0 else MODEL_NAMES[::-1]
        for name in order:
            times[name].append(time_steps(steps[name], iters))
    return times


def count_params(model: nn.Module) -> int:
    """Number of parameters."""
    return sum(p.numel() for p in model.parameters())


def hardware_line(device: torch.device) -> str:
    """CPU model, cores, torch version and threads (and the GPU)."""
    cpu = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    cpu = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    line = (f'Hardware: CPU {cpu}, {os.cpu_count()} logical cores '
            f'({usable} usable), torch {torch.__version__}, '
            f'{torch.get_num_threads()} intra-op threads')
    if device.type == 'cuda':
        line += (f', GPU {torch.cuda.get_device_name(device)}, CUDA '
                 f'{torch.version.cuda}, cudnn '
                 f'{torch.backends.cudnn.version()}')
    else:
        line += ', device cpu'
    return line


def format_table(rows: Sequence[Dict[str, str]]) -> str:
    """A markdown table with the columns of :data:`TABLE_COLUMNS`."""
    widths = [
        max(len(col), *(len(row[col]) for row in rows))
        for col in TABLE_COLUMNS
    ]
    lines = [
        '| ' + ' | '.join(c.ljust(w) for c, w in zip(TABLE_COLUMNS, widths)) +
        ' |',
        '|' + '|'.join('-' * (w + 2) for w in widths) + '|',
    ]
    for row in rows:
        cells = [
            row[c].ljust(w) if i < 2 else row[c].rjust(w)
            for i, (c, w) in enumerate(zip(TABLE_COLUMNS, widths))
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def run(args: argparse.Namespace,
        print_fn: Callable[[str], None] = print) -> dict:
    """Benchmark as requested and print the report.

    Args:
        args (argparse.Namespace): Parsed arguments.
        print_fn (callable): Where the report lines go.

    Returns:
        dict: ``rows`` (the table as dicts of floats), ``times`` (seconds
        per repeat, per phase and model), ``params`` and ``hardware``.
    """
    cfg = build_config(args)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = bool(
            cfg.get('env_cfg', {}).get('cudnn_benchmark', False))
    batch_size = args.batch_size or cfg.get('train_dataloader',
                                            {}).get('batch_size')
    if batch_size is None:
        raise ValueError('the config has no train_dataloader.batch_size; '
                         'pass --batch-size')
    img_size = ((args.img_size, args.img_size)
                if args.img_size else infer_img_size(cfg))
    models = build_models(cfg, device, args.seed)
    mixmo = models['mixmo']
    batch = make_batch(batch_size, mixmo.encoders.convs[0].in_channels,
                       img_size, mixmo.head.num_classes, device, args.seed)
    optim_cfg = cfg.get('optim_wrapper') or dict(
        optimizer=dict(type='SGD', lr=0.01, momentum=0.9))

    params = {name: count_params(model) for name, model in models.items()}
    encoder_params = sum(p.numel() for p in mixmo.encoders.parameters())
    params['mixmo_folded'] = (
        params['mixmo'] - encoder_params + encoder_params //
        mixmo.num_members)

    times, rows, peaks = {}, [], {}
    for phase in PHASES:
        steps = {
            name: Step(model, phase, batch, optim_cfg, args.amp,
                       args.infer_mode)
            for name, model in models.items()
        }
        times[phase] = interleaved_times(steps, args.repeats, args.warmup,
                                         args.iters)
        if not args.no_memory:
            for name in MODEL_NAMES:
                peaks[phase, name] = peak_step_bytes(steps[name])
        ratios = [
            m / v for m, v in zip(times[phase]['mixmo'],
                                  times[phase]['vanilla'])
        ]
        for name in MODEL_NAMES:
            median = statistics.median(times[phase][name])
            rows.append(
                dict(
                    phase=phase,
                    model=name,
                    images_per_s=batch_size * args.iters / median,
                    ms_per_iter=1000 * median / args.iters,
                    ratio=(statistics.median(ratios)
                           if name == 'mixmo' else 1.0),
                    ratio_min=min(ratios) if name == 'mixmo' else 1.0,
                    ratio_max=max(ratios) if name == 'mixmo' else 1.0,
                    peak_mib=(peaks[phase, name] / 2**20
                              if (phase, name) in peaks else math.nan)))

    text_rows = [
        {
            'phase': row['phase'],
            'model': row['model'],
            'img/s (median)': f'{row["images_per_s"]:.2f}',
            'ms/iter (median)': f'{row["ms_per_iter"]:.2f}',
            'time ratio MixMo/vanilla': f'{row["ratio"]:.3f}',
            'ratio min-max':
            f'{row["ratio_min"]:.3f}-{row["ratio_max"]:.3f}',
            'peak mem (MiB)': ('n/a' if math.isnan(row['peak_mib']) else
                               f'{row["peak_mib"]:.1f}'),
        } for row in rows
    ]
    hardware = hardware_line(device)
    num_members = mixmo.num_members
    precision = ('fp32' if not args.amp else
                 'amp bfloat16' if device.type == 'cpu' else 'amp float16')
    lines = [
        hardware,
        f'Config: {args.config}' + (f' with {args.cfg_options}'
                                    if args.cfg_options else ''),
        f'Batch: {batch_size} slots of {batch["inputs"].shape[1]}x'
        f'{img_size[0]}x{img_size[1]} (MixMo: M={num_members} inputs per '
        f'slot), {precision}; {args.repeats} interleaved repeats of '
        f'{args.iters} iter(s) after {args.warmup} warm-up iter(s); '
        f'inference mode={args.infer_mode!r}',
        f'Params: vanilla {params["vanilla"]:,} | MixMo {params["mixmo"]:,} '
        f'(train), {params["mixmo_folded"]:,} (inference, folded encoders)',
        format_table(text_rows),
        'time ratio = median over repeats of t(MixMo) / t(vanilla) of the '
        'same repeat; > 1 means MixMo is slower. Targets: train <= '
        f'{TARGETS["train"]:.2f} (equal batch slots), inference <= '
        f'{TARGETS["inference"]:.2f} (folded encoders).',
    ]
    for phase in PHASES:
        ratio = next(r['ratio'] for r in rows
                     if r['phase'] == phase and r['model'] == 'mixmo')
        verdict = 'met' if ratio <= TARGETS[phase] else 'MISSED'
        lines.append(f'  {phase}: {ratio:.3f} -> target {verdict}')
    spreads = [
        r['ratio_max'] - r['ratio_min'] for r in rows if r['model'] == 'mixmo'
    ]
    if max(spreads) > 0.1:
        lines.append(
            f'  Warning: the paired ratios spread over up to '
            f'{max(spreads):.2f}: the timings are noisy (loaded machine?); '
            'the verdicts need more --repeats/--iters, ' +
            ('--threads 1, ' if torch.get_num_threads() > 1 else '') +
            'or an idle machine.')
    lines += [
        'Timed, train: model.train_step(batch, optim_wrapper) = data '
        'preprocessor (normalisation; MixMo: + member pairing, pixel mix, '
        'new DataSamples) -> forward(mode=\'loss\') -> backward -> '
        'optimizer step -> zero_grad; batch already on the device.',
        'Timed, inference: eval, no_grad: data preprocessor -> '
        f'forward(mode={args.infer_mode!r}) on (B, C, H, W) images.',
        'Peak mem: ' + ('not measured (--no-memory).' if args.no_memory else
                        'model state (params, buffers, grads, optimizer '
                        'state) + peak extra tensor memory of one step (' +
                        ('torch.cuda.max_memory_allocated'
                         if device.type == 'cuda' else
                         'torch.profiler CPU allocations; no allocator '
                         'caching, not RSS') + ').'),
    ]
    for line in lines:
        print_fn(line)
    return dict(rows=rows, times=times, params=params, hardware=hardware)


def main(argv: Optional[List[str]] = None) -> dict:
    """Parse ``argv`` (default: the command line) and run the benchmark."""
    return run(parse_args(argv))


if __name__ == '__main__':
    main()
