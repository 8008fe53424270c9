"""Train from an mmmixmo (or mmpretrain) config, as mmpretrain's train.py."""
import argparse
import os
import os.path as osp
from typing import List, Optional

import mmmixmo  # noqa: F401
import torch
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmmixmo.engine import check_hook_args
from mmmixmo.utils import setup_cpu_distributed, teardown_distributed

#: refuses a checkpoint that does not fit the model
STRICT_LOAD = dict(type='mmpretrain.StrictLoadHook')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a classifier.')
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--work-dir', help='default: the config\'s, else ./work_dirs/CONFIG')
    parser.add_argument(
        '--resume', nargs='?', const='auto',
        help='resume from CKPT, or from the work dir\'s latest checkpoint')
    parser.add_argument('--amp', action='store_true', help='mixed precision')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the lr by the batch size / auto_scale_lr.base_batch_size')
    for flag in ('--no-validate', '--no-pin-memory',
                 '--no-persistent-workers'):
        parser.add_argument(flag, action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. randomness.seed=1')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options`` merged first, then the flags."""
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options or {})
    check_hook_args(cfg)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume is not None:
        cfg.resume = True
        cfg.load_from = None if args.resume == 'auto' else args.resume
    if cfg.get('resume'):
        cfg.custom_hooks = [*cfg.get('custom_hooks', []), STRICT_LOAD]
    if args.auto_scale_lr:
        if (cfg.get('auto_scale_lr') or {}).get('base_batch_size') is None:
            raise ValueError('--auto-scale-lr needs '
                             'auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if loader is not None:
            loader.setdefault('pin_memory', torch.cuda.is_available())
            loader.setdefault('persistent_workers',
                              loader.get('num_workers', 0) > 0)
            loader.setdefault('collate_fn', dict(type='default_collate'))
            if args.no_pin_memory:
                loader.pin_memory = False
            if args.no_persistent_workers:
                loader.persistent_workers = False
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    cfg = build_config(parse_args(argv))
    setup_cpu_distributed(cfg)
    runner = (RUNNERS.build(cfg)
              if 'runner_type' in cfg else Runner.from_cfg(cfg))
    runner.train()
    del runner  # its DDP model holds the process group
    teardown_distributed()


if __name__ == '__main__':
    main()
