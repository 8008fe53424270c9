"""Time and peak extra memory of a config's evaluator on synthetic predictions.

One CPU thread. Rows: each metric of ``val_evaluator`` alone, mmpretrain's
``Accuracy`` alone if the config has none (the ratios' reference), the
whole evaluator and, with ``--tace``, the two TACE functions on the float64
``pred_score``. Every (row, N) runs ``--repeats`` times, each time in a
fresh process (Linux), the rows interleaved; the table gives the medians,
the ratios are the medians of the repeats' ratios (with their range). The peak
extra memory is the peak resident size above the one after the warm-up
(:mod:`mmmixmo.evaluation.benchmark`); "gathered" is the pickled size of the
per-sample results a rank sends. The predictions are those of
:func:`~mmmixmo.evaluation.benchmark.synthetic_batches`.

Usage: python tools/analysis_tools/benchmark_evaluation.py [CONFIG]
    [--sizes 10000 50000] [--num-classes 1000] [--num-members 2]
    [--seed 0] [--batch-size 64] [--repeats 3] [--tace]
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
from functools import partial
from typing import Dict, List, Optional, Tuple

import torch

from mmmixmo.evaluation.benchmark import (TACE_FUNCTIONS, measure_evaluator,
                                          measure_tace)
from mmmixmo.utils.benchmark import (format_table, hardware_line,
                                     interleaved, load_config, positive_int)

CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'mixmo', 'cut-mixmo_resnet50_8xb64-b2_in1k.py')
COLUMNS = ('row', 'N x K', 'process s', 'compute s', 'total s', 'CPU s',
           'peak extra MiB', 'gathered MiB')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', nargs='?', default=CONFIG,
                        help='its val_evaluator is measured (default: '
                        'configs/mixmo/cut-mixmo_resnet50_8xb64-b2_in1k.py)')
    parser.add_argument('--sizes', type=positive_int, nargs='+',
                        default=[10000, 50000], help='numbers of samples N')
    parser.add_argument('--num-classes', type=positive_int, default=1000)
    parser.add_argument('--num-members', type=positive_int, default=2)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--batch-size', type=positive_int, default=64)
    parser.add_argument('--repeats', type=positive_int, default=3,
                        help='fresh processes per (row, N), interleaved')
    parser.add_argument('--tace', action='store_true',
                        help='also time the two TACE functions alone')
    parser.add_argument('--child', nargs=2, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def reference(metrics: List[dict]) -> dict:
    """mmpretrain's ``Accuracy``, with the arguments of the config's
    ``BatchAccuracy`` if it has one: the reference of the ratios."""
    batch = [m for m in metrics if m['type'] == 'BatchAccuracy']
    return dict(batch[0] if batch else dict(topk=(1, 5)), type='Accuracy')


def row_names(metrics: List[dict], tace: bool) -> List[Tuple[str, str]]:
    """(id, label) of the rows: the metrics, ``Accuracy`` if the config has
    none (:func:`reference`), the evaluator, the TACEs."""
    rows = [(str(i), metric['type']) for i, metric in enumerate(metrics)]
    if all(metric['type'] != 'Accuracy' for metric in metrics):
        rows.append(('reference', 'Accuracy'))
    rows.append(('evaluator', 'evaluator'))
    return rows + [(name, name) for name in TACE_FUNCTIONS if tace]


def child(args: argparse.Namespace) -> dict:
    """The measurement of one (row, N), in this process."""
    torch.set_num_threads(1)
    row, num = args.child[0], int(args.child[1])
    sizes = (num, args.num_classes, args.num_members, args.seed)
    if row in TACE_FUNCTIONS:
        return measure_tace(row, *sizes)
    metrics = list(load_config(args.config).val_evaluator)
    if row == 'reference':
        metrics = [reference(metrics)]
    elif row != 'evaluator':
        metrics = [metrics[int(row)]]
    return measure_evaluator(metrics, *sizes, batch_size=args.batch_size)


def total(res: dict) -> float:
    """Process + compute seconds of a row."""
    return res.get('process', 0.0) + res['compute']


def run_child(args: argparse.Namespace, row: str, num: int) -> dict:
    """The measurement of ``(row, num)`` in a fresh process."""
    cmd = [sys.executable, __file__, args.config, '--child', row, str(num),
           '--num-classes', str(args.num_classes), '--num-members',
           str(args.num_members), '--seed', str(args.seed), '--batch-size',
           str(args.batch_size)]
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    out = subprocess.run(cmd, env=env, check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def medians(repeats: List[dict]) -> dict:
    """The first repeat's values with the medians of the figures."""
    return dict(repeats[0], **{
        key: statistics.median(res[key] for res in repeats)
        for key in ('process', 'compute', 'cpu', 'peak_mib')
        if key in repeats[0]
    })


def ratio_line(num: int, full: List[dict], acc: List[dict]) -> str:
    """The evaluator's ratios to ``Accuracy``: per figure, the median of
    the repeats' ratios and their range."""
    parts = []
    for name, figure in (('compute', lambda r: r['compute']),
                         ('process + compute', total),
                         ('CPU', lambda r: r['cpu']),
                         ('peak extra memory', lambda r: r['peak_mib'])):
        ratios = sorted(figure(f) / figure(a) for f, a in zip(full, acc))
        spread = f' ({ratios[0]:.2f}-{ratios[-1]:.2f})' \
            if len(ratios) > 1 else ''
        parts.append(f'{name} {statistics.median(ratios):.2f} x{spread}')
    return f'evaluator / Accuracy at N = {num}: ' + ', '.join(parts)


def shares_line(num: int, full: List[dict]) -> str:
    """The median seconds of each metric's share of the evaluator's
    compute."""
    names = [name for name, _ in full[0]['each']]
    shares = [statistics.median(run['each'][i][1] for run in full)
              for i in range(len(names))]
    return f'compute of each metric in the evaluator at N = {num}: ' + \
        ', '.join(f'{name} {share:.2f} s'
                  for name, share in zip(names, shares))


def main(argv: Optional[List[str]] = None) -> List[dict]:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(child(args), default=float))
        return []
    torch.set_num_threads(1)
    print(hardware_line(torch.device('cpu')))
    metrics = list(load_config(args.config).val_evaluator)
    table, results, lines = [], [], []
    for num in args.sizes:
        rows = dict(row_names(metrics, args.tace))
        runs: Dict[str, List[dict]] = interleaved(
            {row: partial(run_child, args, row, num) for row in rows},
            args.repeats)
        for row, label in rows.items():
            res = dict(medians(runs[row]), row=label, num=num)
            results.append(res)
            process = res.get('process')
            table.append((
                label, f'{num} x {args.num_classes}',
                '-' if process is None else f'{process:.2f}',
                f'{res["compute"]:.2f}',
                f'{total(res):.2f}', f'{res["cpu"]:.2f}',
                f'{res["peak_mib"]:.0f}',
                '-' if process is None else f'{res["gathered_mib"]:.1f}'))
        by_label: Dict[str, str] = {}
        for row, label in rows.items():
            by_label.setdefault(label, row)
        lines.append(ratio_line(num, runs['evaluator'],
                                runs[by_label['Accuracy']]))
        if 'BatchAccuracy' in by_label:
            same = runs[by_label['BatchAccuracy']][0]['metrics'] == \
                runs[by_label['Accuracy']][0]['metrics']
            lines.append(f'BatchAccuracy and Accuracy at N = {num}: '
                         f'{"the same" if same else "DIFFERENT"} values')
        lines.append(shares_line(num, runs['evaluator']))
    print(format_table(COLUMNS, table))
    print('\n'.join(lines))
    for res in results:
        if res['row'] == 'evaluator':
            print(f'values at N = {res["num"]}: '
                  f'{json.dumps(res["metrics"], sort_keys=True)}')
        elif res['row'] in TACE_FUNCTIONS:
            print(f'{res["row"]} at N = {res["num"]}: {res["above"]:.1f} % '
                  'of the probabilities above 1e-3')
    return results


if __name__ == '__main__':
    main()
