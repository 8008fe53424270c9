#!/usr/bin/env python
"""Export a trained MixMo checkpoint as one single-forward network.

::

    python tools/deployment/export_mixmo.py CONFIG CHECKPOINT [--out FILE]
        [--format {torchscript,export}] [--img-size S | H W]
        [--batch-size B] [--with-preprocess] [--logits] [--atol A]
        [--seed S] [--cfg-options KEY=VALUE ...]

The model of ``CONFIG`` (a ``MixMoClassifier``) is built, the checkpoint
loaded with mmengine's ``load_checkpoint`` and the network folded by
:func:`mmmixmo.models.utils.fold_mixmo`: the M member encoders become one
convolution (sum of the kernels and biases) and the M heads one
``Linear(in_channels, K)`` (mean of their weights and biases), so the
exported model computes the MixMo ensemble in one vanilla forward pass and
has exactly the parameters of the vanilla network. It outputs the ensemble's
class probabilities (``pred_score``), or with ``--logits`` the mean of the
head logits.

Formats:

- ``torchscript``: ``torch.jit.trace`` on a ``(B, C, H, W)`` example, saved
  with ``torch.jit.save`` (load with ``torch.jit.load``). The traced graph
  accepts other batch sizes.
- ``export``: ``torch.export.export`` with a dynamic batch dimension, saved
  with ``torch.export.save`` as ``.pt2`` (load with
  ``torch.export.load(path).module()``).

Inputs: normalised float32 images by default; with ``--with-preprocess``
the data preprocessor's channel flip and normalisation are inside the
exported model, which then takes raw images (0-255), ``(B, C, H, W)`` with
the channel order of the data pipeline: float32 or uint8 for
``torchscript``, float32 for ``export`` (which fixes the input dtype to the
example's).

Check: the saved file is loaded back and run on a random batch of ``B`` raw
images of size ``--img-size`` (default: the crop size of the config's train
pipeline); its outputs must equal the MixMo model's ``pred_score`` (the
runner's ``test_step``: data preprocessor, then ``predict``) to ``--atol``
(default 1e-5), and its parameter count must equal the vanilla network's
(mmpretrain ``ImageClassifier`` with the same backbone and a
``LinearClsHead``, as built by ``tools/analysis_tools/benchmark.py``),
otherwise the script exits with an error. The maximum absolute difference
and the parameter counts of the MixMo model, the exported model and the
vanilla network are printed.

Timing: the reloaded exported model and the vanilla network (with the
softmax, on the same batch; the vanilla network takes normalised images) are
run ``--time-repeats`` times each, interleaved, and the fastest forward of
each is printed with their ratio. It is a figure, not a check: timings on a
shared machine are noisy, and the equal cost is what the parameter check and
the identical layers already establish.

Like ``tools/train.py`` it imports :mod:`mmmixmo` from an install or from
this checkout.
"""
import argparse
import functools
import importlib.util
import logging
import os.path as osp
import sys
import time
import warnings
from typing import Callable, Dict, List, Optional, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if importlib.util.find_spec('mmmixmo') is None:
    # Not installed: use the package of the checkout this script belongs to.
    sys.path.insert(0, REPO_ROOT)

import mmmixmo  # noqa: E402,F401
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import load_checkpoint  # noqa: E402
from mmpretrain.registry import MODELS  # noqa: E402
from torch import nn  # noqa: E402

from mmmixmo.models.classifiers import MixMoClassifier  # noqa: E402
from mmmixmo.models.utils import FoldedMixMo, fold_mixmo  # noqa: E402

FORMATS = dict(torchscript='.pt', export='.pt2')
BENCHMARK = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark.py')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Fold a MixMo checkpoint into one network and export '
        'it (TorchScript or torch.export).')
    parser.add_argument('config', help='path of the (MixMo) config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out',
        help='output file; defaults to the checkpoint path with the suffix '
        '_folded.pt (torchscript) or _folded.pt2 (export)')
    parser.add_argument(
        '--format',
        choices=list(FORMATS),
        default='torchscript',
        help='torchscript: torch.jit.trace + torch.jit.save; export: '
        'torch.export.export + torch.export.save (.pt2)')
    parser.add_argument(
        '--img-size',
        type=int,
        nargs='+',
        metavar='S',
        help='example input size, S or H W; defaults to the crop size of '
        'the train pipeline')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=4,
        help='batch size of the example and check batch')
    parser.add_argument(
        '--with-preprocess',
        action='store_true',
        help='include the channel flip and normalisation of '
        'model.data_preprocessor: the exported model takes raw 0-255 images')
    parser.add_argument(
        '--logits',
        action='store_true',
        help='output the mean of the head logits instead of the ensemble '
        'probabilities')
    parser.add_argument(
        '--atol',
        type=float,
        default=1e-5,
        help='largest allowed absolute difference to the MixMo model')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the check batch')
    parser.add_argument(
        '--time-repeats',
        type=int,
        default=10,
        help='time the forward of the exported model and of the vanilla '
        'network this many times each, interleaved (0: do not time)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. model.head.num_classes=10')
    args = parser.parse_args(argv)
    if args.img_size is not None and len(args.img_size) not in (1, 2):
        parser.error('--img-size takes S or H W')
    if args.time_repeats < 0:
        parser.error('--time-repeats must be >= 0')
    if args.batch_size < 1:
        parser.error('--batch-size must be >= 1')
    if args.out is None:
        args.out = osp.splitext(args.checkpoint)[0] + '_folded' + \
            FORMATS[args.format]
    return args


@functools.lru_cache(maxsize=None)
def _load_benchmark():
    """``tools/analysis_tools/benchmark.py`` (vanilla model, input size)."""
    spec = importlib.util.spec_from_file_location('mmmixmo_tools_benchmark',
                                                  BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_model(cfg: Config, checkpoint: str) -> MixMoClassifier:
    """Build the MixMo model of ``cfg`` and load ``checkpoint`` (CPU, eval).

    Args:
        cfg (Config): The full config.
        checkpoint (str): Checkpoint path (or URL) for ``load_checkpoint``.

    Returns:
        MixMoClassifier: The model in eval mode.
    """
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = MODELS.build(cfg.model)
    if not isinstance(model, MixMoClassifier):
        raise TypeError("model.type must be 'MixMoClassifier' to fold the "
                        f'members, got {type(model).__name__}')
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.eval()


def export_model(folded: FoldedMixMo, example: torch.Tensor, fmt: str,
                 out: str) -> None:
    """Trace or export ``folded`` on ``example`` and save it to ``out``.

    Args:
        folded (FoldedMixMo): The folded network (eval mode).
        example (Tensor): Example inputs ``(B, C, H, W)``.
        fmt (str): ``'torchscript'`` or ``'export'``.
        out (str): Output path.
    """
    with torch.no_grad(), warnings.catch_warnings():
        # torch >= 2.9 marks TorchScript as deprecated; it still works.
        warnings.simplefilter('ignore', FutureWarning)
        if fmt == 'torchscript':
            torch.jit.save(torch.jit.trace(folded, example), out)
        elif fmt == 'export':
            batch = torch.export.Dim('batch', min=1)
            program = torch.export.export(
                folded, (example, ), dynamic_shapes=({
                    0: batch
                }, ))
            torch.export.save(program, out)
        else:
            raise ValueError(f'--format must be one of {list(FORMATS)}, '
                             f'got {fmt!r}')


def load_exported(path: str, fmt: str) -> nn.Module:
    """Load a file written by :func:`export_model` as a callable module.

    Args:
        path (str): The exported file.
        fmt (str): ``'torchscript'`` or ``'export'``.

    Returns:
        nn.Module: The loaded model (``torch.jit.ScriptModule`` or the
        ``GraphModule`` of the ``ExportedProgram``).
    """
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)
        if fmt == 'torchscript':
            return torch.jit.load(path, map_location='cpu')
        return torch.export.load(path).module()


def num_params(module: nn.Module) -> int:
    """Number of parameters (distinct tensors) of a module."""
    return sum(p.numel() for p in module.parameters())


def mixmo_scores(model: MixMoClassifier, raw: torch.Tensor) -> torch.Tensor:
    """The MixMo ensemble's ``pred_score`` as the runner computes it.

    Args:
        model (MixMoClassifier): The model in eval mode.
        raw (Tensor): Raw images ``(B, C, H, W)``.

    Returns:
        Tensor: Scores ``(B, K)``.
    """
    with torch.no_grad():
        samples = model.test_step(dict(inputs=raw))
    return torch.stack([sample.pred_score for sample in samples])


def build_vanilla(cfg: Config) -> nn.Module:
    """The vanilla network of a MixMo config, in eval mode (random weights:
    it is only counted and timed)."""
    benchmark = _load_benchmark()
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        vanilla = MODELS.build(benchmark.vanilla_model_cfg(cfg.model))
    finally:
        logger.setLevel(level)
    return vanilla.eval()


def time_forward(runs: Dict[str, Callable[[], object]],
                 repeats: int) -> Dict[str, float]:
    """Fastest wall time of each run, in seconds.

    Every run is called twice to warm up (TorchScript optimises on its first
    calls), then ``repeats`` times, interleaved with the others in
    alternating order so that a drift of the machine hits all alike. The
    minimum is reported: it is what the hardware can do, where the median
    moves with other jobs on a shared machine.

    Args:
        runs (dict[str, Callable]): Name -> zero-argument callable.
        repeats (int): Timed calls per run, >= 1.

    Returns:
        dict[str, float]: Name -> fastest time in seconds.
    """
    times = {name: [] for name in runs}
    names = list(runs)
    with torch.no_grad():
        for run in runs.values():
            run()
            run()
        for i in range(repeats):
            for name in (names if i % 2 == 0 else names[::-1]):
                start = time.perf_counter()
                runs[name]()
                times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


def _img_size(cfg: Config, img_size: Optional[List[int]]) -> Tuple[int, int]:
    if img_size is None:
        return _load_benchmark().infer_img_size(cfg)
    return (img_size[0], img_size[-1])


def check(model: MixMoClassifier, exported: Callable, raw: torch.Tensor,
          with_preprocess: bool, logits: bool) -> float:
    """Max absolute difference between the exported model and MixMo.

    Args:
        model (MixMoClassifier): The MixMo model in eval mode.
        exported (Callable): The reloaded exported model.
        raw (Tensor): Raw images ``(B, C, H, W)``.
        with_preprocess (bool): Whether ``exported`` takes raw images.
        logits (bool): Whether ``exported`` outputs the mean head logits.

    Returns:
        float: ``max |exported - MixMo|`` over the batch.
    """
    with torch.no_grad():
        if logits:
            inputs = model.data_preprocessor(dict(inputs=raw))['inputs']
            want = model.head(model.extract_feat(inputs)).float().mean(1)
        else:
            want = mixmo_scores(model, raw)
        inputs = raw if with_preprocess else model.data_preprocessor(
            dict(inputs=raw))['inputs']
        got = exported(inputs)
    if got.shape != want.shape:
        raise RuntimeError(f'exported output {tuple(got.shape)} != MixMo '
                           f'output {tuple(want.shape)}')
    return float((got.float() - want).abs().max())


def main(argv: Optional[List[str]] = None) -> dict:
    """Fold, export, reload and check; returns the measured values.

    Returns:
        dict: ``out``, ``format``, ``max_abs_diff``, ``params_mixmo``,
        ``params_exported`` and ``params_vanilla``; with
        ``--time-repeats`` > 0 also ``ms_exported`` and ``ms_vanilla``.
    """
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model(cfg, args.checkpoint)
    folded = fold_mixmo(
        model,
        with_preprocess=args.with_preprocess,
        with_softmax=not args.logits)

    height, width = _img_size(cfg, args.img_size)
    channels = model.encoders.convs[0].in_channels
    generator = torch.Generator().manual_seed(args.seed)
    raw = torch.randint(
        0,
        256, (args.batch_size, channels, height, width),
        generator=generator).float()
    example = raw if args.with_preprocess else model.data_preprocessor(
        dict(inputs=raw))['inputs']
    export_model(folded, example, args.format, args.out)

    exported = load_exported(args.out, args.format)
    vanilla = build_vanilla(cfg)
    result = dict(
        out=args.out,
        format=args.format,
        max_abs_diff=check(model, exported, raw, args.with_preprocess,
                           args.logits),
        params_mixmo=num_params(model),
        params_exported=num_params(exported),
        params_vanilla=num_params(vanilla))
    if args.time_repeats:
        normalised = model.data_preprocessor(dict(inputs=raw))['inputs']
        fastest = time_forward(
            dict(
                exported=lambda: exported(example),
                vanilla=lambda: torch.softmax(
                    vanilla(normalised, mode='tensor'), dim=1)),
            args.time_repeats)
        result.update(
            ms_exported=1e3 * fastest['exported'],
            ms_vanilla=1e3 * fastest['vanilla'])
    print(f'exported {args.format} model to {args.out}')
    print(f'max abs diff to the MixMo model: {result["max_abs_diff"]:.3g} '
          f'(batch {args.batch_size}, {height}x{width}, atol {args.atol:g})')
    print(f'parameters: MixMo {result["params_mixmo"]:,}, exported '
          f'{result["params_exported"]:,}, vanilla '
          f'{result["params_vanilla"]:,}')
    if args.time_repeats:
        print(f'forward, fastest of {args.time_repeats} (batch '
              f'{args.batch_size}, {torch.get_num_threads()} threads): '
              f'exported {result["ms_exported"]:.2f} ms, vanilla '
              f'{result["ms_vanilla"]:.2f} ms, ratio '
              f'{result["ms_exported"] / result["ms_vanilla"]:.3f}')
    if not result['max_abs_diff'] <= args.atol:
        raise RuntimeError(
            f'the exported model differs from the MixMo model by '
            f'{result["max_abs_diff"]:.3g} > --atol {args.atol:g}')
    if result['params_exported'] != result['params_vanilla']:
        raise RuntimeError(
            f'the exported model has {result["params_exported"]:,} '
            f'parameters, the vanilla network {result["params_vanilla"]:,}')
    return result


if __name__ == '__main__':
    main()
