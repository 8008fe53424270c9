"""Time and peak extra memory of the two TACE functions on one CPU thread.

Every (function, N, logit scale) runs in a fresh process (Linux, glibc): the
peak resident memory is read from /proc/self/status, reset after the data
is made and the freed heap returned to the system. The probabilities are the
float64 softmax of ``scale * randn(N, K)``, the labels drawn from them.

Usage: python tools/analysis_tools/benchmark_tace.py [--sizes 10000 50000]
    [--num-classes 1000] [--logit-scales 1 3] [--repeats 3] [--seed 0]
"""
import argparse
import ctypes
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor

from mmmixmo.evaluation.functional import (
    mixmo_thresholded_adaptive_calibration_error,
    thresholded_adaptive_calibration_error)
from mmmixmo.utils.benchmark import (format_table, hardware_line,
                                     positive_float, positive_int)

FUNCTIONS = dict(
    tace=thresholded_adaptive_calibration_error,
    tace_mixmo=mixmo_thresholded_adaptive_calibration_error)
THRESHOLD = 1e-3
COLUMNS = ('function', 'N x K', 'logit scale', 'p > 1e-3 (%)', 's (median)',
           'peak extra MiB', 'value')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', type=positive_int, nargs='+',
                        default=[10000, 50000], help='numbers of samples N')
    parser.add_argument('--num-classes', type=positive_int, default=1000)
    parser.add_argument('--logit-scales', type=positive_float, nargs='+',
                        default=[1.0, 3.0], help='1: flat probabilities, '
                        'many above the threshold (the slow case)')
    parser.add_argument('--repeats', type=positive_int, default=3,
                        help='timed calls per process')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--child', nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_data(num: int, num_classes: int, scale: float,
              seed: int) -> Tuple[Tensor, Tensor]:
    """Probabilities ``(N, K)`` and labels ``(N, )``, built in row chunks
    (the peak stays near the size of the probabilities)."""
    gen = torch.Generator().manual_seed(seed)
    probs = torch.empty(num, num_classes, dtype=torch.float64)
    labels = torch.empty(num, dtype=torch.long)
    for row in range(0, num, 1000):
        chunk = probs[row:row + 1000]
        torch.randn(chunk.shape, generator=gen, dtype=torch.float64,
                    out=chunk)
        chunk.copy_((scale * chunk).softmax(1))
        labels[row:row + 1000] = torch.multinomial(
            chunk, 1, generator=gen).squeeze(1)
    return probs, labels


def _status_kib(key: str) -> int:
    """A ``kB`` field of /proc/self/status (``VmRSS``, ``VmHWM``)."""
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f
                    if line.startswith(key + ':'))


def measure(name: str, num: int, num_classes: int, scale: float,
            repeats: int, seed: int) -> Dict[str, float]:
    """Median seconds and peak extra MiB of ``repeats`` calls of a TACE."""
    torch.set_num_threads(1)
    probs, labels = make_data(num, num_classes, scale, seed)
    function = FUNCTIONS[name]
    function(probs[:100], labels[:100])  # lazy initialisations
    # freed heap memory back to the system: a reuse of it would not count
    ctypes.CDLL('libc.so.6').malloc_trim(0)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # VmHWM := VmRSS
    base = _status_kib('VmRSS')
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = function(probs, labels)
        times.append(time.perf_counter() - start)
    extra_mib = (_status_kib('VmHWM') - base) / 1024
    return dict(
        seconds=statistics.median(times),
        extra_mib=extra_mib,
        above=100 * int((probs > THRESHOLD).sum()) / probs.numel(),
        value=value)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    if args.child:  # FUNCTION N SCALE, run by the parent
        name, num, scale = args.child
        print(json.dumps(measure(name, int(num), args.num_classes,
                                 float(scale), args.repeats, args.seed)))
        return
    torch.set_num_threads(1)
    print(hardware_line(torch.device('cpu')))
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    rows = []
    for scale in args.logit_scales:
        for num in args.sizes:
            for name in FUNCTIONS:
                out = subprocess.run(
                    [sys.executable, __file__, '--child', name,
                     str(num), str(scale), '--num-classes',
                     str(args.num_classes), '--repeats',
                     str(args.repeats), '--seed', str(args.seed)],
                    env=env, check=True, capture_output=True, text=True)
                res = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append((name, f'{num} x {args.num_classes}', f'{scale:g}',
                             f'{res["above"]:.1f}', f'{res["seconds"]:.3f}',
                             f'{res["extra_mib"]:.1f}', f'{res["value"]:.6f}'))
    print(format_table(COLUMNS, rows))


if __name__ == '__main__':
    main()
