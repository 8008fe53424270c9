"""Test a checkpoint on an mmmixmo (or mmpretrain) config, as upstream."""
import argparse
import os
import os.path as osp
import warnings
from copy import deepcopy
from typing import List, Optional

import mmengine
import mmmixmo  # noqa: F401
import torch
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.evaluator import DumpResults
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from mmmixmo.engine import check_hook_args
from mmmixmo.utils import setup_cpu_distributed, teardown_distributed

#: refuses a checkpoint that does not fit the model
STRICT_LOAD = dict(
    type='mmpretrain.StrictLoadHook',
    hint='--partial-load loads only the keys that fit')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint.')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='default: the config\'s, else ./work_dirs/CONFIG')
    parser.add_argument('--out', help='file to dump the results to')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        help='what --out holds (default: the predictions)')
    parser.add_argument(
        '--partial-load', action='store_true',
        help='load only the checkpoint keys that fit the model, with a '
        'warning (default: refuse a checkpoint that does not fit)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, e.g. test_cfg.fp16=True')
    parser.add_argument('--show-dir', help='save the visualizations here')
    for flag in ('--amp', '--show', '--no-pin-memory'):
        parser.add_argument(flag, action='store_true')
    parser.add_argument('--interval', type=int, default=1)
    parser.add_argument('--wait-time', type=float, default=2)
    parser.add_argument(
        '--tta', action='store_true',
        help="the config's tta_model/tta_pipeline, else horizontal flip TTA")
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.out_item is not None and args.out is None:
        parser.error('--out-item needs --out FILE')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def enable_tta(cfg: Config) -> None:
    """Wrap the model and the test pipeline for test-time augmentation."""
    if 'tta_model' not in cfg:
        cfg.tta_model = dict(type='mmpretrain.EnsembleScoreTTA')
    elif str(cfg.tta_model.get('type')).split('.')[-1] == \
            'AverageClsScoreTTA':
        warnings.warn(
            f"tta_model.type={cfg.tta_model.type!r} keeps the first view's "
            'pred_label, member_logits and ensemble_logits, which the metrics '
            "then score; set tta_model.type='EnsembleScoreTTA' (the default "
            'of --tta) to merge them all')
    dataset = cfg.test_dataloader.dataset
    # an OODDataset: its OOD part keeps the in-distribution pipeline unless
    # it has its own, which then gets the flips too
    parts = [dataset.in_dist, dataset.ood] \
        if str(dataset.type).split('.')[-1] == 'OODDataset' else [dataset]
    if 'tta_pipeline' not in cfg:
        cfg.tta_pipeline = flip_tta(parts[0].pipeline)
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    parts[0].pipeline = cfg.tta_pipeline
    for part in parts[1:]:
        if 'pipeline' in part:
            part.pipeline = flip_tta(part.pipeline)


def flip_tta(pipeline: list) -> list:
    """The pipeline with its last transform (packing) run on the image and
    its horizontal flip."""
    pipeline = deepcopy(pipeline)
    flips = [dict(type='RandomFlip', prob=prob) for prob in (1., 0.)]
    pipeline.append(
        dict(type='TestTimeAug', transforms=[flips, [pipeline.pop()]]))
    return pipeline


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
    cfg.load_from = args.checkpoint
    if not args.partial_load:
        cfg.custom_hooks = [*cfg.get('custom_hooks', []), STRICT_LOAD]
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
    loader = cfg.get('test_dataloader')
    if loader is not None:
        loader.setdefault('pin_memory', torch.cuda.is_available())
        loader.setdefault('collate_fn', dict(type='default_collate'))
        if args.no_pin_memory:
            loader.pin_memory = False
    return cfg


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    cfg = build_config(args)
    setup_cpu_distributed(cfg)
    runner = (RUNNERS.build(cfg)
              if 'runner_type' in cfg else Runner.from_cfg(cfg))
    if args.out is not None and args.out_item in (None, 'pred'):
        runner.test_evaluator.metrics.append(DumpResults(args.out))
    metrics = runner.test()
    if args.out is not None and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    del runner  # its DDP model holds the process group
    teardown_distributed()
    return metrics


if __name__ == '__main__':
    main()
