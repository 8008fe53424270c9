"""Train from an mmmixmo (or mmpretrain) config, as mmpretrain's train.py."""
import argparse
import os
from typing import List, Optional

from mmengine.config import Config

from mmmixmo.apis.runner_config import STRICT_LOAD, run_runner, runner_config
from mmmixmo.apis.tool_args import runner_parser


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = runner_parser('Train a classifier.')
    parser.add_argument(
        '--resume', nargs='?', const='auto',
        help='resume from CKPT, or from the work dir\'s latest checkpoint')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help='scale the lr by the batch size / auto_scale_lr.base_batch_size')
    for flag in ('--no-validate', '--no-persistent-workers'):
        parser.add_argument(flag, action='store_true')
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options`` merged first, then the flags."""
    cfg = runner_config(args.config, args.cfg_options, args.launcher,
                        args.work_dir, not args.no_pin_memory,
                        not args.no_persistent_workers)
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
    return cfg


def main(argv: Optional[List[str]] = None) -> None:
    run_runner(build_config(parse_args(argv)), 'train')


if __name__ == '__main__':
    main()
