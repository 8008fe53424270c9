#!/usr/bin/env python
"""Merge N member checkpoints into one checkpoint of an ``EnsembleClassifier``.

::

    python tools/analysis_tools/merge_ensemble_checkpoints.py \\
        MEMBER0.pth MEMBER1.pth [MEMBER2.pth ...] --out MERGED.pth \\
        [--config ENSEMBLE_CONFIG] [--cfg-options KEY=VALUE ...]

Each ``MEMBER`` is a checkpoint written by mmengine (``tools/train.py``'s
``epoch_<n>.pth``) or a bare state dict. The output is an mmengine-style
checkpoint ``dict(meta=..., state_dict=...)`` whose state dict holds member
``n``'s weights under ``members.<n>.<key>`` (a leading ``module.`` is
stripped, as mmengine's loader does), in the order given. Optimizer state and
message hub are dropped; ``meta`` holds only plain Python values:
``meta['ensemble']['members']`` lists, per member, the source path and its
``epoch``, ``iter``, ``seed`` and ``experiment_name`` when recorded, and
``meta['dataset_meta']`` is the members' common ``dataset_meta`` (the
members must agree on it). The file loads with ``torch.load(...,
weights_only=True)`` and with mmengine's ``load_checkpoint``, so
``python tools/test.py configs/ensembles/<config>.py MERGED.pth`` evaluates
the ensemble.

With ``--config`` the script also builds that config's model (an
``EnsembleClassifier``) and loads the merged weights strictly, so a wrong
number of members or a member of another architecture fails here with
mmengine's list of missing / unexpected / mis-shaped keys, before a long
test run.
"""
import argparse
import importlib.util
import os
import os.path as osp
import re
import sys
import time
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Union

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if importlib.util.find_spec('mmmixmo') is None:
    # Not installed: use the package of the checkout this script belongs to.
    sys.path.insert(0, REPO_ROOT)

import mmengine  # noqa: E402
import mmmixmo  # noqa: E402,F401  (registers models, patches the loader)
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.runner import (CheckpointLoader, load_state_dict,  # noqa: E402
                             save_checkpoint)
from mmpretrain.registry import MODELS  # noqa: E402

#: Entries of a member's ``meta`` copied into ``meta['ensemble']['members']``.
MEMBER_META_KEYS = ('epoch', 'iter', 'seed', 'experiment_name')


def _state_dict_of(checkpoint: Dict[str, Any], name: str) -> Dict[str, Any]:
    """The weights of a loaded checkpoint, without a ``module.`` prefix."""
    if not isinstance(checkpoint, dict):
        raise TypeError(f'{name}: expected a checkpoint dict, got '
                        f'{type(checkpoint).__name__}')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict) or not state_dict or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise ValueError(f'{name}: no state dict of tensors found (expected '
                         "an mmengine checkpoint with a 'state_dict' entry "
                         'or a bare state dict)')
    return OrderedDict(
        (re.sub(r'^module\.', '', key), value)
        for key, value in state_dict.items())


def _member_info(checkpoint: Dict[str, Any], name: str) -> Dict[str, Any]:
    """Plain-Python summary of a member checkpoint's meta."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    info: Dict[str, Any] = dict(checkpoint=name)
    if isinstance(meta, dict):
        for key in MEMBER_META_KEYS:
            value = meta.get(key)
            if isinstance(value, (bool, int, float, str)):
                info[key] = value
    return info


def merge_ensemble_checkpoints(
        checkpoints: Sequence[Union[str, Dict[str, Any]]],
        names: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Merge member checkpoints into one ``EnsembleClassifier`` checkpoint.

    Args:
        checkpoints (Sequence[str | dict]): N >= 2 member checkpoints, as
            paths (loaded with mmengine's ``CheckpointLoader`` on the CPU) or
            already loaded dicts, in member order.
        names (Sequence[str], optional): Names recorded in the meta for
            loaded dicts. Defaults to the paths, or ``member<n>``.

    Returns:
        dict: ``dict(meta=..., state_dict=...)`` with keys
        ``members.<n>.<key>`` (see the module docstring).

    Raises:
        ValueError: Fewer than 2 members, a checkpoint without a state dict,
            or members whose ``meta['dataset_meta']`` differ.
    """
    if len(checkpoints) < 2:
        raise ValueError('an ensemble needs at least 2 member checkpoints, '
                         f'got {len(checkpoints)}')
    if names is None:
        names = [
            ckpt if isinstance(ckpt, str) else f'member{i}'
            for i, ckpt in enumerate(checkpoints)
        ]
    state_dict: Dict[str, torch.Tensor] = OrderedDict()
    members: List[Dict[str, Any]] = []
    dataset_metas = []
    for i, (ckpt, name) in enumerate(zip(checkpoints, names)):
        if isinstance(ckpt, str):
            ckpt = CheckpointLoader.load_checkpoint(ckpt, map_location='cpu')
        for key, value in _state_dict_of(ckpt, name).items():
            state_dict[f'members.{i}.{key}'] = value
        members.append(_member_info(ckpt, name))
        meta = ckpt.get('meta') or {}
        dataset_metas.append(
            meta.get('dataset_meta') if isinstance(meta, dict) else None)

    meta: Dict[str, Any] = dict(
        ensemble=dict(num_members=len(members), members=members),
        mmengine_version=mmengine.__version__,
        time=time.strftime('%Y%m%d_%H%M%S', time.localtime()))
    known = [(name, dm) for name, dm in zip(names, dataset_metas)
             if dm is not None]
    for name, dataset_meta in known[1:]:
        if dataset_meta != known[0][1]:
            raise ValueError(
                f'the members were trained on different data sets: '
                f'dataset_meta of {known[0][0]} is {known[0][1]!r}, of '
                f'{name} is {dataset_meta!r}')
    if known:
        meta['dataset_meta'] = known[0][1]
    return dict(meta=meta, state_dict=state_dict)


def check_against_config(merged: Dict[str, Any],
                         config: str,
                         cfg_options: Optional[dict] = None) -> None:
    """Load the merged weights strictly into the config's model.

    Args:
        merged (dict): Output of :func:`merge_ensemble_checkpoints`.
        config (str): Path of an ensemble config.
        cfg_options (dict, optional): Overrides merged into the config.

    Raises:
        RuntimeError: mmengine's message on missing, unexpected or
            mis-shaped keys.
    """
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    load_state_dict(model, merged['state_dict'], strict=True)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Merge member checkpoints into one EnsembleClassifier '
        'checkpoint (keys members.<n>.<key>).')
    parser.add_argument(
        'checkpoints', nargs='+', help='member checkpoints, in member order')
    parser.add_argument(
        '--out', required=True, help='path of the merged checkpoint')
    parser.add_argument(
        '--config',
        help='ensemble config to check the merged weights against (strict '
        'load)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override keys of --config, e.g. model.num_members=3')
    args = parser.parse_args(argv)
    if len(args.checkpoints) < 2:
        parser.error('give at least 2 member checkpoints')
    if args.cfg_options is not None and args.config is None:
        parser.error('--cfg-options needs --config')
    return args


def main(argv: Optional[List[str]] = None) -> Dict[str, Any]:
    """Merge, optionally check, and save; returns the merged checkpoint."""
    args = parse_args(argv)
    merged = merge_ensemble_checkpoints(args.checkpoints)
    if args.config is not None:
        check_against_config(merged, args.config, args.cfg_options)
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    save_checkpoint(merged, args.out)
    num_tensors = len(merged['state_dict'])
    print(f'Saved {args.out}: {len(args.checkpoints)} members, '
          f'{num_tensors} tensors' +
          (f', checked against {args.config}' if args.config else ''))
    return merged


if __name__ == '__main__':
    main()
