"""Test a checkpoint on an mmmixmo (or mmpretrain) config, as upstream."""
import argparse
import os
from typing import List, Optional

import mmengine
from mmengine.config import Config

from mmmixmo.apis.runner_config import (STRICT_LOAD, enable_tta, run_runner,
                                        runner_config)
from mmmixmo.apis.tool_args import runner_parser


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = runner_parser('Test a checkpoint.', 'checkpoint file')
    parser.add_argument('--out', help='file to dump the results to')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        help='what --out holds (default: the predictions)')
    parser.add_argument(
        '--partial-load', action='store_true',
        help='load only the checkpoint keys that fit the model, with a '
        'warning (default: refuse a checkpoint that does not fit)')
    parser.add_argument('--show-dir', help='save the visualizations here')
    parser.add_argument('--show', action='store_true')
    parser.add_argument('--interval', type=int, default=1)
    parser.add_argument('--wait-time', type=float, default=2)
    parser.add_argument(
        '--tta', action='store_true',
        help="the config's tta_model/tta_pipeline, else horizontal flip TTA")
    args = parser.parse_args(argv)
    if args.out_item is not None and args.out is None:
        parser.error('--out-item needs --out FILE')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def build_config(args: argparse.Namespace) -> Config:
    """The config with ``--cfg-options`` merged first, then the flags."""
    cfg = runner_config(args.config, args.cfg_options, args.launcher,
                        args.work_dir, not args.no_pin_memory)
    cfg.load_from = args.checkpoint
    if not args.partial_load:
        cfg.custom_hooks = [
            *cfg.get('custom_hooks', []),
            dict(STRICT_LOAD, hint='--partial-load loads only the keys that '
                 'fit')
        ]
    if args.amp:
        cfg.test_cfg.fp16 = True
    if args.show or args.show_dir is not None:
        hook = (cfg.get('default_hooks') or {}).get('visualization')
        if hook is None:
            raise ValueError(
                '--show and --show-dir need default_hooks.visualization '
                '(dict(type="VisualizationHook")) in the config')
        hook.update(enable=True, show=args.show, wait_time=args.wait_time,
                    out_dir=args.show_dir, interval=args.interval)
    if args.tta:
        enable_tta(cfg)
    if args.out is not None and args.out_item in (None, 'pred'):
        dump = dict(type='DumpResults', out_file_path=args.out)
        evaluator = cfg.test_evaluator
        if isinstance(evaluator, dict) and 'metrics' in evaluator:
            metrics = evaluator['metrics']  # an Evaluator config
            evaluator['metrics'] = [
                *(metrics if isinstance(metrics, list) else [metrics]), dump]
        else:
            cfg.test_evaluator = [
                *(evaluator if isinstance(evaluator, list) else [evaluator]),
                dump
            ]
    return cfg


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    metrics = run_runner(build_config(args), 'test')
    if args.out is not None and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    return metrics


if __name__ == '__main__':
    main()
