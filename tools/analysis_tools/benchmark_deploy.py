"""Latency and throughput of the deployed MixMo (heads kept) vs the vanilla
network, in PyTorch eager and in ONNX Runtime.

Usage: python tools/analysis_tools/benchmark_deploy.py CONFIG
    [--batch-sizes 1 64] [--repeats 5] [--warmup 1] [--iters N]
    [--threads T] [--img-size S] [--seed 0] [--cfg-options ...]
"""
import argparse
import copy
import os
import os.path as osp
import statistics
import tempfile
from typing import List, Optional

import numpy as np
import torch
from mmengine.config import Config

from mmmixmo.apis.export import export_model
from mmmixmo.apis.tool_args import add_cfg_options
from mmmixmo.datasets.model_inputs import input_size
from mmmixmo.utils.benchmark import (build_mixmo, format_table, hardware_line,
                                     load_config, median_ratio, positive_int,
                                     time_interleaved)

# model name -> heads kept
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
    add_cfg_options(parser)
    return parser.parse_args(argv)


def build_deployed(cfg: Config, seed: int, img_size: int,
                   threads: int) -> dict:
    """Per model name: the folded network that the ONNX graph holds (the
    same random MixMo weights for both), in eager PyTorch (``module``) and
    as an ONNX Runtime ``session`` of ``threads`` intra-op threads."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    deployed = {}
    with tempfile.TemporaryDirectory() as workdir:
        # mixmo first: build_mixmo refuses another model's config
        for name, heads in reversed(MODELS_KEPT.items()):
            model_cfg = copy.deepcopy(cfg)
            if not heads:  # the vanilla layers, whatever the heads' average
                model_cfg.model.head.average = 'logits'
            result = export_model(
                model_cfg, build_mixmo(model_cfg, seed)[0],
                osp.join(workdir, f'{name}.onnx'), 'onnx', heads=heads,
                img_size=img_size)
            deployed[name] = dict(
                module=result['module'], params=result['params_folded'],
                session=ort.InferenceSession(
                    result['out'], options,
                    providers=['CPUExecutionProvider']))
    return deployed


@torch.no_grad()
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
    deployed = build_deployed(cfg, args.seed, img_size, args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    rows, times, max_abs_diff = [], {}, 0.0
    for batch_size in args.batch_sizes:
        raw = torch.randint(0, 256, (batch_size, 3, img_size, img_size),
                            generator=gen).float()
        feed = dict(inputs=raw.numpy())
        calls = {}
        for name, item in deployed.items():
            # the graph's work: normalisation, network, ensemble scores
            calls['pytorch', name] = (
                lambda module=item['module']: module(raw)[0])
            calls['onnxruntime', name] = (
                lambda session=item['session']: session.run(['scores'],
                                                            feed)[0])
            got = calls['onnxruntime', name]()
            want = calls['pytorch', name]().numpy()
            max_abs_diff = max(max_abs_diff, float(np.abs(got - want).max()))
        for runtime in RUNTIMES:
            got, iters = time_interleaved(
                {name: calls[runtime, name] for name in MODELS_KEPT},
                args.repeats, args.iters, args.warmup, args.min_time)
            times[runtime, batch_size] = got
            ratio = median_ratio(got['mixmo'], got['vanilla'])
            for name in MODELS_KEPT:
                median = statistics.median(got[name])
                rows.append(dict(
                    runtime=runtime, batch_size=batch_size, model=name,
                    ms_per_batch=1e3 * median, img_per_s=batch_size / median,
                    ratio=ratio if name == 'mixmo' else 1.0, iters=iters))

    params = {name: item['params'] for name, item in deployed.items()}
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
