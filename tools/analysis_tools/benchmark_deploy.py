"""Latency and throughput of the deployed MixMo (heads kept) vs the vanilla
network, in PyTorch eager and in ONNX Runtime.

Usage: python tools/analysis_tools/benchmark_deploy.py CONFIG
    [--batch-sizes 1 64] [--repeats 5] [--warmup 1] [--iters N]
    [--threads T] [--img-size S] [--seed 0] [--cfg-options ...]
"""
import argparse
import importlib.util
import math
import os
import os.path as osp
import statistics
import tempfile
import time
from functools import partial
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import save_checkpoint
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from mmmixmo.models.classifiers import fold_mixmo
from mmmixmo.models.utils.ensemble_average import ensemble_average
from mmmixmo.datasets.model_inputs import input_size
from mmmixmo.utils.benchmark import (build_mixmo, format_table, hardware_line,
                                     interleaved, load_config, positive_int)

EXPORT = osp.join(osp.dirname(osp.abspath(__file__)), '..', 'deployment',
                  'export_mixmo.py')
# model name -> fold_mixmo's keep_heads
MODELS_KEPT = {'vanilla': False, 'mixmo': True}
RUNTIMES = ('pytorch', 'onnxruntime')
COLUMNS = ('runtime', 'batch', 'model', 'ms/batch (median)', 'img/s',
           'time ratio MixMo/vanilla')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Time the MixMo model with its heads kept against the '
        'vanilla network, both folded by fold_mixmo (random weights), in '
        'PyTorch eager and exported to ONNX Runtime.')
    parser.add_argument('config', help='a MixMo config file')
    parser.add_argument('--batch-sizes', type=positive_int, nargs='+',
                        default=[1, 64])
    parser.add_argument('--repeats', type=positive_int, default=5,
                        help='timed repeats per model, interleaved')
    parser.add_argument('--warmup', type=int, default=1,
                        help='untimed calls per model first')
    parser.add_argument('--iters', type=positive_int, default=None,
                        help='calls per timed repeat; default: enough for '
                        '--min-time seconds after the warm-up (1 without)')
    parser.add_argument('--min-time', type=float, default=0.2,
                        help='seconds a timed repeat lasts at least, for '
                        'the default --iters')
    parser.add_argument('--threads', type=positive_int,
                        default=len(os.sched_getaffinity(0)),
                        help='intra-op threads of torch and ONNX Runtime; '
                        'default: the usable cores')
    parser.add_argument('--img-size', type=positive_int, default=None,
                        help="image side; default: the test pipeline's crop "
                        'or resize, else 32')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the weights and the images')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. model.head.r=2')
    return parser.parse_args(argv)


def load_export_tool():
    """``tools/deployment/export_mixmo.py`` as a module."""
    spec = importlib.util.spec_from_file_location('export_mixmo', EXPORT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_deployed(cfg: Config, seed: int, workdir: str,
                   img_size: int) -> Dict[str, dict]:
    """Per model name: the folded ``ImageClassifier`` (random MixMo weights)
    and the ``.onnx`` file the export tool writes of the same weights."""
    mixmo, model_cfg = build_mixmo(cfg, seed)
    config = osp.join(workdir, 'config.py')
    checkpoint = osp.join(workdir, 'random.pth')
    cfg.dump(config)
    save_checkpoint(dict(meta={}, state_dict=mixmo.state_dict()), checkpoint)
    export = load_export_tool()
    deployed = {}
    for name, keep_heads in MODELS_KEPT.items():
        # the vanilla layers, whatever the heads' average (probs do not fold)
        fold_cfg = model_cfg if keep_heads else dict(
            model_cfg, head=dict(model_cfg.head, average='logits'))
        folded_cfg, weights = fold_mixmo(fold_cfg, mixmo.state_dict(),
                                         keep_heads=keep_heads)
        model = MODELS.build(folded_cfg)
        model.load_state_dict(weights)
        onnx = osp.join(workdir, f'{name}.onnx')
        argv = [config, checkpoint, '--format', 'onnx', '--out', onnx,
                '--img-size', str(img_size)]
        argv += ['--heads'] if keep_heads else [
            '--cfg-options', 'model.head.average=logits']
        export.main(argv)
        deployed[name] = dict(
            model=model.eval(), onnx=onnx, heads=keep_heads,
            average=fold_cfg['head'].get('average', 'logits'))
    return deployed


def pytorch_call(model: nn.Module, heads: bool, average: str,
                 raw: Tensor) -> Callable[[], Tensor]:
    """What the ONNX graph computes, eager: normalisation, network, the
    ensemble probabilities ``(B, K)``."""

    @torch.no_grad()
    def call() -> Tensor:
        inputs = model.data_preprocessor(dict(inputs=raw))['inputs']
        logits = model(inputs, mode='tensor')
        if heads:
            return ensemble_average(logits, average)[0]
        return logits.softmax(dim=1)

    return call


def onnxruntime_call(session, raw: np.ndarray) -> Callable[[], np.ndarray]:
    """One ONNX Runtime run; returns ``scores`` ``(B, K)``."""
    return lambda: session.run(['scores'], dict(inputs=raw))[0]


def timed(call: Callable[[], object], iters: int) -> float:
    """Seconds per call, over ``iters`` consecutive calls."""
    start = time.perf_counter()
    for _ in range(iters):
        call()
    return (time.perf_counter() - start) / iters


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the benchmark, print the report and return its unrounded
    figures: ``rows``, ``times`` (seconds per call, per repeat, by runtime
    and batch size), ``max_abs_diff`` (ONNX Runtime vs eager scores),
    ``params``, ``img_size``, ``hardware``."""
    import onnxruntime as ort

    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    torch.set_num_threads(args.threads)
    img_size = args.img_size or max(input_size(cfg))
    with tempfile.TemporaryDirectory() as workdir:
        deployed = build_deployed(cfg, args.seed, workdir, img_size)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        for item in deployed.values():
            item['session'] = ort.InferenceSession(
                item['onnx'], options, providers=['CPUExecutionProvider'])

    gen = torch.Generator().manual_seed(args.seed)
    rows, times, max_abs_diff = [], {}, 0.0
    for batch_size in args.batch_sizes:
        raw = torch.randint(0, 256, (batch_size, 3, img_size, img_size),
                            generator=gen).float()
        calls = {}
        for name, item in deployed.items():
            calls['pytorch', name] = pytorch_call(
                item['model'], item['heads'], item['average'], raw)
            calls['onnxruntime', name] = onnxruntime_call(
                item['session'], raw.numpy())
            got = calls['onnxruntime', name]()
            want = calls['pytorch', name]().numpy()
            max_abs_diff = max(max_abs_diff, float(np.abs(got - want).max()))
        for runtime in RUNTIMES:
            warm = [0.0]
            for name in MODELS_KEPT:
                for _ in range(args.warmup):
                    warm.append(timed(calls[runtime, name], 1))
            iters = args.iters or max(
                1, math.ceil(args.min_time / max(warm)) if max(warm) else 1)
            runs = {name: partial(timed, calls[runtime, name], iters)
                    for name in MODELS_KEPT}
            times[runtime, batch_size] = interleaved(runs, args.repeats)
            got = times[runtime, batch_size]
            ratio = statistics.median(
                m / v for m, v in zip(got['mixmo'], got['vanilla']))
            for name in MODELS_KEPT:
                median = statistics.median(got[name])
                rows.append(dict(
                    runtime=runtime, batch_size=batch_size, model=name,
                    ms_per_batch=1e3 * median, img_per_s=batch_size / median,
                    ratio=ratio if name == 'mixmo' else 1.0, iters=iters))

    params = {name: sum(p.numel() for p in item['model'].parameters())
              for name, item in deployed.items()}
    hardware = (f'{hardware_line(torch.device("cpu"))}, onnxruntime '
                f'{ort.__version__} ({args.threads} intra-op threads)')
    print(hardware)
    print(f'Config: {args.config}' +
          (f' {args.cfg_options}' if args.cfg_options else ''))
    print(f'Input: raw 0-255 float32 images 3x{img_size}x{img_size}, '
          'normalisation and ensemble probabilities included; '
          f'{args.repeats} interleaved repeats after {args.warmup} warm-up '
          'call(s), median')
    print(f'Params: MixMo with heads {params["mixmo"]:,}, vanilla '
          f'{params["vanilla"]:,}; max abs diff ONNX Runtime vs PyTorch '
          f'scores {max_abs_diff:.3g}')
    print(format_table(COLUMNS, [
        (row['runtime'], str(row['batch_size']), row['model'],
         f'{row["ms_per_batch"]:.2f}', f'{row["img_per_s"]:.1f}',
         f'{row["ratio"]:.3f}') for row in rows], left=3))
    print('time ratio: median over repeats of t(MixMo) / t(vanilla) in the '
          'same repeat, > 1: MixMo is slower')
    return dict(rows=rows, times=times, max_abs_diff=max_abs_diff,
                params=params, img_size=img_size, hardware=hardware)


if __name__ == '__main__':
    main()
