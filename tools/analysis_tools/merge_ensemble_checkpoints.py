"""Merge member checkpoints into one checkpoint of an ``EnsembleClassifier``.

Usage: merge_ensemble_checkpoints.py M0.pth M1.pth ... --out OUT [--config C]
"""
import argparse
import os
import os.path as osp
from typing import List, Optional

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_state_dict, save_checkpoint
from mmpretrain.registry import MODELS

from mmmixmo.models.classifiers import merge_ensemble_checkpoints


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoints', nargs='+', help='in member order')
    parser.add_argument('--out', required=True, help='the merged checkpoint')
    parser.add_argument(
        '--config', help='ensemble config to load the result into, strictly')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override keys of --config, e.g. model.num_members=3')
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
        cfg = Config.fromfile(args.config)
        cfg.merge_from_dict(args.cfg_options or {})
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        model = MODELS.build(
            {'data_preprocessor': cfg.get('data_preprocessor'), **cfg.model})
        load_state_dict(model, merged['state_dict'], strict=True)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    save_checkpoint(merged, args.out)
    print(f'Saved {args.out}: {len(args.checkpoints)} members, '
          f'{len(merged["state_dict"])} tensors' +
          (f', checked against {args.config}' if args.config else ''))
    return merged


if __name__ == '__main__':
    main()
