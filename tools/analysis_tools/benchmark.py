"""Images/s of a training step and of inference, MixMo vs its folded network.

Usage: python tools/analysis_tools/benchmark.py CONFIG [--batch-size B]
    [--repeats 5] [--iters 1] [--img-size S] [--threads T] [--warmup 1]
    [--device cpu|cuda] [--amp] [--compile [BACKEND]] [--seed 0]
    [--cfg-options ...]
"""
import argparse
import statistics
from contextlib import nullcontext
from functools import partial
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.optim import build_optim_wrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn
from torch._dynamo.utils import counters

from mmmixmo.models.classifiers import fold_mixmo
from mmmixmo.datasets.model_inputs import (innermost_dataset,
                                           pipeline_img_size, transform_index)
from mmmixmo.utils.benchmark import (build_mixmo, format_table, hardware_line,
                                     interleaved, load_config, median_ratio,
                                     num_params, peak_mib, positive_int,
                                     time_interleaved)

NAMES = ('vanilla', 'mixmo')
COLUMNS = ('phase', 'model', 'img/s (median)', 'ms/iter (median)',
           'time ratio MixMo/vanilla', 'peak mem (MiB)')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time MixMo against the vanilla network fold_mixmo '
        'makes of it, on the same synthetic batch.')
    parser.add_argument('config', help='a MixMo config file')
    for flag, default, text in (
        ('--batch-size', None, 'batch slots; default: the config slots'),
        ('--repeats', 5, 'timed repeats per model, interleaved'),
        ('--iters', 1, 'consecutive steps per timed repeat'),
        ('--img-size', None, 'image side; default: the train crop size'),
        ('--threads', None, 'torch intra-op CPU threads'),
    ):
        parser.add_argument(flag, type=positive_int, default=default,
                            help=text)
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed steps per model first')
    parser.add_argument('--device', choices=('cpu', 'cuda'),
                        default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true',
                        help='float16 (AmpOptimWrapper) on CUDA, bfloat16 '
                        "autocast on the CPU; the config's AmpOptimWrapper "
                        'is used on CUDA anyway')
    parser.add_argument('--compile', nargs='?', const='inductor',
                        metavar='BACKEND',
                        help='torch.compile the train steps as a config\'s '
                        'compile=dict(backend=BACKEND) does (default '
                        'inductor); warm up with --warmup 2 or more (SGD '
                        'compiles again once it has momenta)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the weights and the batch')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.head.r=2')
    return parser.parse_args(argv)


def train_img_size(cfg: Config) -> Tuple[int, int]:
    """``(H, W)`` of the last crop or resize of the train pipeline."""
    size = pipeline_img_size(cfg.train_dataloader.dataset)
    if size is None:
        raise ValueError('no crop size in the train pipeline: pass --img-size')
    return size


def train_slots(cfg: Config) -> int:
    """Slots of a training step: ``batch_size`` x ``MemberViews``' b."""
    pipeline = innermost_dataset(cfg.train_dataloader.dataset)['pipeline']
    index = transform_index(pipeline, 'MemberViews')
    repeats = 1 if index is None else pipeline[index].get('num_repeats', 1)
    return cfg.train_dataloader.batch_size * repeats


def build_models(cfg: Config, seed: int) -> Dict[str, nn.Module]:
    """The MixMo model of ``cfg`` and the vanilla network folded from it."""
    mixmo, model_cfg = build_mixmo(cfg, seed)
    # the vanilla layers, whatever the heads' average (probs do not fold)
    vanilla_cfg, weights = fold_mixmo(
        dict(model_cfg, head=dict(model_cfg.head, average='logits')),
        mixmo.state_dict())
    vanilla = MODELS.build(vanilla_cfg)
    vanilla.load_state_dict(weights)
    return dict(vanilla=vanilla, mixmo=mixmo)


def train_optim_cfg(optim_cfg: dict, device: torch.device, amp: bool) -> dict:
    """The optimizer wrapper of the train steps: the config's; with ``amp``
    an ``AmpOptimWrapper`` on CUDA; on the CPU never an ``AmpOptimWrapper``
    (mmengine's needs a GPU): an ``OptimWrapper`` of the same optimizer."""
    is_amp = optim_cfg.get('type') == 'AmpOptimWrapper'
    if device.type == 'cpu' and is_amp:
        return dict({k: v for k, v in optim_cfg.items()
                     if k not in ('dtype', 'loss_scale')}, type='OptimWrapper')
    if device.type == 'cuda' and amp and not is_amp:
        return dict(optim_cfg, type='AmpOptimWrapper')
    return optim_cfg


def make_step(model: nn.Module, train: bool, batch: dict, optim_cfg: dict,
              amp: bool,
              compile_backend: Optional[str] = None) -> Callable[[], None]:
    """One ``train_step`` (preprocessor, loss, backward, optimizer step), or
    one ``test_step`` in eval mode without gradients; ``amp``: under
    autocast, bfloat16 on the CPU, float16 on CUDA, unless an
    ``AmpOptimWrapper`` trains; ``compile_backend``: the ``train_step``
    compiled as mmengine's ``Runner`` does for ``compile=True``."""
    device = next(model.parameters()).device
    autocast = nullcontext
    if amp and not (train and optim_cfg.get('type') == 'AmpOptimWrapper'):
        dtype = torch.bfloat16 if device.type == 'cpu' else torch.float16
        autocast = partial(torch.autocast, device.type, dtype=dtype)
    optim_wrapper = build_optim_wrapper(model, optim_cfg) if train else None
    model.train(train)
    train_step = model.train_step
    if train and compile_backend:
        train_step = torch.compile(train_step, backend=compile_backend)

    def step() -> None:
        with autocast(), torch.set_grad_enabled(train):
            if train:
                train_step(batch, optim_wrapper)
            else:
                model.test_step(batch)

    return step


def dynamo_counts() -> Tuple[int, int]:
    """Graphs compiled and graph breaks so far (torch's dynamo counters)."""
    return (counters['stats']['unique_graphs'],
            sum(counters['graph_break'].values()))


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the benchmark, print the report and return its unrounded
    figures: ``rows``, ``times`` (seconds per step, one per repeat),
    ``params``, ``hardware``, ``graphs`` (with ``--compile``: graphs and
    graph breaks of the warm-up, graphs compiled after it)."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = cfg.get('env_cfg', {}).get(
        'cudnn_benchmark', False)
    models = {k: m.to(device) for k, m in build_models(cfg, args.seed).items()}
    mixmo = models['mixmo']
    num_members = len(mixmo.encoders.convs)
    batch_size = args.batch_size or train_slots(cfg)
    img_size = (args.img_size, ) * 2 if args.img_size else train_img_size(cfg)
    channels = mixmo.encoders.convs[0].in_channels
    gen = torch.Generator().manual_seed(args.seed)
    views = torch.randint(0, 256, (num_members, batch_size, channels,
                                   *img_size),
                          generator=gen, dtype=torch.uint8).to(device)
    labels = torch.randint(0, mixmo.head.num_classes, (batch_size, ),
                           generator=gen)
    samples = [DataSample().set_gt_label(int(y)).to(device) for y in labels]
    # MixMo trains on MemberViews' nested batch (b = 1): member i's views
    # are views[i], member 0's are the batch of the vanilla network.
    plain = dict(inputs=views[0], data_samples=samples)
    batches = dict(
        train=dict(vanilla=plain,
                   mixmo=dict(inputs=[[v] for v in views],
                              data_samples=samples)),
        inference=dict(vanilla=plain, mixmo=plain))

    optim_cfg = train_optim_cfg(cfg.optim_wrapper, device, args.amp)
    rows, times, graphs = [], {}, {}
    for phase, batch in batches.items():
        steps = {name: make_step(models[name], phase == 'train', batch[name],
                                 optim_cfg, args.amp, args.compile)
                 for name in NAMES}
        # interleaved: the models share BaseModel.train_step's code, which
        # torch.compile runs eagerly (its callees compiled) once MixMo's
        # eager preprocessor breaks the graph inside optim_context
        start = dynamo_counts()
        interleaved(steps, args.warmup)
        warm = dynamo_counts()
        times[phase], _ = time_interleaved(steps, args.repeats, args.iters,
                                           device=device)
        ratio = median_ratio(times[phase]['mixmo'], times[phase]['vanilla'])
        for name in NAMES:
            median = statistics.median(times[phase][name])
            rows.append(dict(
                phase=phase, model=name,
                img_per_s=batch_size / median,
                ms_per_iter=1e3 * median,
                ratio=ratio if name == 'mixmo' else 1.0,
                peak_mib=peak_mib(steps[name], device)))
        if args.compile and phase == 'train':
            graphs = dict(warm=[w - s for w, s in zip(warm, start)],
                          after=dynamo_counts()[0] - warm[0])

    params = {k: num_params(m) for k, m in models.items()}
    precision = ('fp32' if not args.amp else
                 'amp bfloat16' if device.type == 'cpu' else 'amp float16')
    if optim_cfg.get('type') == 'AmpOptimWrapper':
        dtype = str(optim_cfg.get('dtype') or 'float16')
        train = f'amp {dtype.removeprefix("torch.")}'
        if train != precision:
            precision = f'train {train}, inference {precision}'
    elif cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        precision += " (the config's AmpOptimWrapper as OptimWrapper: CPU)"
    hardware = hardware_line(device)
    print(hardware)
    print(f'Config: {args.config}' +
          (f' {args.cfg_options}' if args.cfg_options else ''))
    print(f'Batch: {batch_size} slots of {channels}x{img_size[0]}x'
          f'{img_size[1]} uint8 (MixMo: M={num_members} inputs per slot, '
          'b=1, each member its own random views in training), '
          f'{precision}; {args.repeats} interleaved repeats of {args.iters} '
          f'iter(s) after {args.warmup} warm-up iter(s)')
    print(f'Params: MixMo {params["mixmo"]:,}, vanilla (folded) '
          f'{params["vanilla"]:,}')
    print(format_table(COLUMNS, [
        (row['phase'], row['model'], f'{row["img_per_s"]:.2f}',
         f'{row["ms_per_iter"]:.2f}', f'{row["ratio"]:.3f}',
         f'{row["peak_mib"]:.1f}') for row in rows]))
    print('time ratio: median over repeats of t(MixMo) / t(vanilla) in the '
          'same repeat, > 1: MixMo is slower; peak mem: tensors allocated '
          'during one step on top of the model state')
    if args.compile:
        print(f'torch.compile({args.compile}) of the train steps, inference '
              f'eager: {graphs["warm"][0]} graphs and {graphs["warm"][1]} '
              'graph breaks in the warm-up (both models), '
              f'{graphs["after"]} graphs compiled after it')
    return dict(rows=rows, times=times, params=params, hardware=hardware,
                graphs=graphs)


if __name__ == '__main__':
    main()
