#!/usr/bin/env python
"""Train a model from an mmmixmo (or any mmpretrain) config.

Same command line as mmpretrain's ``tools/train.py``::

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--no-validate] [--auto-scale-lr] [--no-pin-memory]
        [--no-persistent-workers] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}] [--local-rank N]

It imports :mod:`mmmixmo` (registering its components and applying its
compatibility fixes) whether or not the package is pip-installed, from any
working directory, and sets up distributed runs on machines without a GPU
(:func:`mmmixmo.utils.setup_cpu_distributed`) and ends them cleanly
(:func:`mmmixmo.utils.teardown_distributed`).
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
from typing import List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if importlib.util.find_spec('mmmixmo') is None:
    # Not installed: use the package of the checkout this script belongs to.
    sys.path.insert(0, REPO_ROOT)

import mmmixmo  # noqa: E402,F401
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmmixmo.utils import (setup_cpu_distributed,  # noqa: E402
                           teardown_distributed)

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (mmpretrain's ``tools/train.py`` arguments)."""
    parser = argparse.ArgumentParser(
        description='Train a classifier with MMPretrain + mmmixmo.')
    parser.add_argument('config', help='path of the config file')
    parser.add_argument(
        '--work-dir',
        help='folder of logs and checkpoints; defaults to the work_dir of '
        'the config, else ./work_dirs/<config name>')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        help='resume training: from the given checkpoint, or without a value '
        'from the latest checkpoint of the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (optim_wrapper.type=AmpOptimWrapper)')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not evaluate the checkpoints during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual total batch size over '
        'auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the dataloaders')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent_workers in the dataloaders')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. train_cfg.max_epochs=10 '
        'model.backbone.depth=28; lists as key="[a,b]" or key=a,b, nested as '
        'key="[(a,b),(c,d)]" (quotes needed, no spaces)')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (tools/dist_train.sh uses pytorch)')
    # torch.distributed.launch passes --local-rank (torch >= 2.0) or
    # --local_rank; torchrun sets the LOCAL_RANK environment variable only.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _set_dataloader_defaults(cfg: Config, args: argparse.Namespace) -> None:
    """Fill pin_memory, persistent_workers and collate_fn where unset.

    ``pin_memory`` defaults to True when CUDA is available (it has no effect
    and only warns on the CPU) and ``persistent_workers`` to True when the
    loader has workers (torch rejects it without); ``--no-pin-memory`` and
    ``--no-persistent-workers`` force them off.
    """
    for name in DATALOADERS:
        loader = cfg.get(name, None)
        if loader is None:
            continue
        loader.setdefault('pin_memory', torch.cuda.is_available())
        loader.setdefault('persistent_workers',
                          loader.get('num_workers', 0) > 0)
        loader.setdefault('collate_fn', dict(type='default_collate'))
        if args.no_pin_memory:
            loader.pin_memory = False
        if args.no_persistent_workers:
            loader.persistent_workers = False


def build_config(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line arguments to it.

    Args:
        args (argparse.Namespace): Output of :func:`parse_args`.

    Returns:
        Config: The config to build the runner from.
    """
    cfg = Config.fromfile(args.config)
    # First, as upstream: the flags below see (and override) the options.
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume is not None:
        cfg.resume = True
        # 'auto': mmengine finds the latest checkpoint of the work dir.
        cfg.load_from = None if args.resume == 'auto' else args.resume
    if args.auto_scale_lr:
        if (cfg.get('auto_scale_lr') or {}).get('base_batch_size') is None:
            raise ValueError(
                '--auto-scale-lr needs auto_scale_lr.base_batch_size in the '
                'config')
        cfg.auto_scale_lr.enable = True
    # After --cfg-options, so that they fill only what neither sets.
    _set_dataloader_defaults(cfg, args)
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    """Train as configured."""
    args = parse_args(argv)
    cfg = build_config(args)
    setup_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()
    # Free the DDP model first: its reducer holds the process group.
    del runner
    teardown_distributed()


if __name__ == '__main__':
    main()
