"""Merge member checkpoints into one checkpoint of an ``EnsembleClassifier``.

Usage: merge_ensemble_checkpoints.py M0.pth M1.pth ... --out OUT [--config C]
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.runner import load_state_dict, save_checkpoint

from mmmixmo.apis.tool_args import add_cfg_options
from mmmixmo.models.classifiers import merge_ensemble_checkpoints
from mmmixmo.utils import build_model, load_config


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoints', nargs='+', help='in member order')
    parser.add_argument('--out', required=True, help='the merged checkpoint')
    parser.add_argument(
        '--config', help='ensemble config to load the result into, strictly')
    add_cfg_options(parser, 'override keys of --config, e.g. '
                    'model.num_members=3')
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 2:
        parser.error('give at least 2 member checkpoints')
    if args.cfg_options is not None and args.config is None:
        parser.error('--cfg-options needs --config')
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    merged = merge_ensemble_checkpoints(args.checkpoints)
    if args.config is not None:
        model = build_model(load_config(args.config, args.cfg_options))
        load_state_dict(model, merged['state_dict'], strict=True)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    save_checkpoint(merged, args.out)
    print(f'Saved {args.out}: {len(args.checkpoints)} members, '
          f'{len(merged["state_dict"])} tensors' +
          (f', checked against {args.config}' if args.config else ''))
    return merged


if __name__ == '__main__':
    main()
