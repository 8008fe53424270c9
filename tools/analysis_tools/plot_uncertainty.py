"""Reliability, head-agreement, risk-coverage and OOD ROC figures.

Reads ``tools/test.py --out`` results. With an OOD test set (``OODDataset``:
the samples carry ``is_ood``), the ROC of OOD detection is drawn for each
available uncertainty score and the other figures use the in-distribution
samples only.

Usage: python tools/analysis_tools/plot_uncertainty.py results.pkl [options]
"""
import argparse
import os
import os.path as osp
from typing import Dict, List, Optional

from mmmixmo.apis.uncertainty_plots import (figure_data, load_results,
                                            plot_figures)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('results', help='pickle of tools/test.py --out')
    parser.add_argument('--out-dir', help='default: the folder of results')
    parser.add_argument('--num-bins', type=int, default=15)
    parser.add_argument('--title', help='default: the name of results')
    args = parser.parse_args(argv)
    if args.num_bins < 1:
        parser.error(f'--num-bins must be >= 1, got {args.num_bins}')
    return args


def main(argv: Optional[List[str]] = None) -> Dict[str, str]:
    args = parse_args(argv)
    data = figure_data(load_results(args.results), args.num_bins)
    print(f'ECE = {data["scores"]["ece"]:.4f} ({args.num_bins} bins), '
          f'top-1 = {data["top1"]:.2f}%, AURC = {data["aurc"]:.4f} on '
          f'{data["num_in"]} in-distribution samples')
    if 'roc' in data:
        print(f'OOD detection ({data["num_ood"]} OOD samples): AUROC ' +
              ', '.join(f'{name} {value:.4f}'
                        for name, value in data['auroc'].items()))
    if data['diversity']:
        head_top1 = ', '.join(f'{acc:.2f}%' for acc in data['head_top1'])
        print(f'{len(data["head_top1"])} heads: top-1 {head_top1}; '
              f'ensemble top-1 {data["ensemble_top1"]:.2f}%')
    else:
        print('The results have no `member_logits` or a single head: no '
              'head_agreement.png nor head_reliability.png.')
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.results))
    os.makedirs(out_dir, exist_ok=True)
    title = args.title or osp.splitext(osp.basename(args.results))[0]
    written = plot_figures(data, title, out_dir)
    for path in written.values():
        print(f'saved {path}')
    return written


if __name__ == '__main__':
    main()
