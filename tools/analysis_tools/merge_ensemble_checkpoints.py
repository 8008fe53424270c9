"""Merge member checkpoints into one checkpoint of an ``EnsembleClassifier``.

Usage: merge_ensemble_checkpoints.py M0.pth M1.pth ... --out OUT [--config C]
"""
import argparse
import os
import os.path as osp
import re
import time
from collections import OrderedDict
from typing import List, Optional, Sequence

import mmengine
import mmmixmo  # noqa: F401
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import CheckpointLoader, load_state_dict, save_checkpoint
from mmpretrain.registry import MODELS


def merge_ensemble_checkpoints(checkpoints: Sequence) -> dict:
    """Member ``n``'s weights under ``members.<n>.``, and a plain ``meta``.

    ``checkpoints``: mmengine checkpoints or bare state dicts (paths or
    loaded), in member order. The meta lists each member's path (or
    ``member<n>``), epoch, iter, seed and experiment_name when recorded.
    """
    state_dict, members, datasets = OrderedDict(), [], []
    for i, ckpt in enumerate(checkpoints):
        name = ckpt if isinstance(ckpt, str) else f'member{i}'
        if isinstance(ckpt, str):
            ckpt = CheckpointLoader.load_checkpoint(ckpt, map_location='cpu')
        weights = isinstance(ckpt, dict) and ckpt.get('state_dict', ckpt)
        if not isinstance(weights, dict) or not weights or not all(
                isinstance(v, torch.Tensor) for v in weights.values()):
            raise ValueError(f'{name}: no state dict of tensors found '
                             "(expected an mmengine checkpoint with a "
                             "'state_dict' entry or a bare state dict)")
        for key, value in weights.items():
            state_dict[f'members.{i}.' + re.sub(r'^module\.', '', key)] = value
        meta = ckpt['meta'] if isinstance(ckpt.get('meta'), dict) else {}
        members.append(dict(checkpoint=name))
        for key in ('epoch', 'iter', 'seed', 'experiment_name'):
            if isinstance(meta.get(key), (bool, int, float, str)):
                members[-1][key] = meta[key]
        if meta.get('dataset_meta') is not None:
            datasets.append((name, meta['dataset_meta']))
    for name, dataset_meta in datasets[1:]:
        if dataset_meta != datasets[0][1]:
            raise ValueError(
                'the members were trained on different data sets: '
                f'dataset_meta of {datasets[0][0]} is {datasets[0][1]!r}, of '
                f'{name} is {dataset_meta!r}')
    meta = dict(
        ensemble=dict(num_members=len(members), members=members),
        mmengine_version=mmengine.__version__,
        time=time.strftime('%Y%m%d_%H%M%S', time.localtime()))
    if datasets:
        meta['dataset_meta'] = datasets[0][1]
    return dict(meta=meta, state_dict=state_dict)


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
