#!/usr/bin/env python
"""Evaluate a checkpoint on the test set of an mmmixmo (or mmpretrain) config.

Same command line as mmpretrain's ``tools/test.py``::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]
        [--out-item {metrics,pred}] [--cfg-options KEY=VALUE ...] [--amp]
        [--show-dir DIR] [--show] [--interval N] [--wait-time S]
        [--no-pin-memory] [--tta] [--launcher {none,pytorch,slurm,mpi}]
        [--local-rank N]

The metrics are logged (printed) at the end. Like ``tools/train.py`` it
imports :mod:`mmmixmo` from an install or from this checkout, and sets up
distributed runs on machines without a GPU.
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
import warnings
from copy import deepcopy
from typing import List, Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if importlib.util.find_spec('mmmixmo') is None:
    # Not installed: use the package of the checkout this script belongs to.
    sys.path.insert(0, REPO_ROOT)

import mmengine  # noqa: E402
import mmmixmo  # noqa: E402,F401
import torch  # noqa: E402
from mmengine.config import Config, ConfigDict, DictAction  # noqa: E402
from mmengine.evaluator import DumpResults  # noqa: E402
from mmengine.registry import RUNNERS  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmmixmo.utils import (setup_cpu_distributed,  # noqa: E402
                           teardown_distributed)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line (mmpretrain's ``tools/test.py`` arguments)."""
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a checkpoint with MMPretrain + '
        'mmmixmo.')
    parser.add_argument('config', help='path of the config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='folder of the logs and the metrics file; defaults to the '
        'work_dir of the config, else ./work_dirs/<config name>')
    parser.add_argument('--out', help='file to dump the results to')
    parser.add_argument(
        '--out-item',
        choices=['metrics', 'pred'],
        help='what --out holds: the metrics or the predictions (default)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config keys, e.g. test_dataloader.batch_size=64; '
        'lists as key="[a,b]" or key=a,b, nested as key="[(a,b),(c,d)]" '
        '(quotes needed, no spaces)')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (test_cfg.fp16=True)')
    parser.add_argument(
        '--show-dir', help='folder to save the visualized predictions to')
    parser.add_argument(
        '--show',
        action='store_true',
        help='show the predictions in a window')
    parser.add_argument(
        '--interval',
        type=int,
        default=1,
        help='visualize every N-th sample')
    parser.add_argument(
        '--wait-time',
        type=float,
        default=2,
        help='seconds each --show window stays open')
    parser.add_argument(
        '--no-pin-memory',
        action='store_true',
        help='disable pin_memory in the dataloader')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='test-time augmentation: tta_model and tta_pipeline of the '
        'config, else the average of the scores with and without a '
        'horizontal flip')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher (tools/dist_test.sh uses pytorch)')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.out_item is not None and args.out is None:
        parser.error('--out-item needs --out FILE')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def _enable_visualization(cfg: Config, args: argparse.Namespace) -> None:
    """Turn on the VisualizationHook for --show / --show-dir."""
    hook = (cfg.get('default_hooks') or {}).get('visualization', None)
    if hook is None:
        raise ValueError(
            '--show and --show-dir need default_hooks.visualization '
            '(dict(type="VisualizationHook")) in the config')
    hook.update(
        enable=True,
        show=args.show,
        wait_time=args.wait_time,
        out_dir=args.show_dir,
        interval=args.interval)


def _enable_tta(cfg: Config) -> None:
    """Wrap the model for test-time augmentation (--tta).

    Without ``tta_model``/``tta_pipeline`` in the config:
    :class:`~mmmixmo.models.tta.EnsembleScoreTTA` (mmpretrain's
    ``AverageClsScoreTTA``, also merging the heads' fields) over the test
    pipeline run with and without a horizontal flip before its last
    transform (``PackInputs``). A config whose ``tta_model`` is mmpretrain's
    ``AverageClsScoreTTA`` is kept, with a warning: that merger keeps the
    first view's ``pred_label``, ``head_logits`` and ``ensemble_logits``.
    """
    if 'tta_model' not in cfg:
        cfg.tta_model = dict(type='mmpretrain.EnsembleScoreTTA')
    elif str(cfg.tta_model.get('type')).split('.')[-1] == \
            'AverageClsScoreTTA':
        warnings.warn(
            f'tta_model.type={cfg.tta_model.type!r} averages pred_score '
            f'only and keeps the first view\'s pred_label, head_logits and '
            f'ensemble_logits, so the calibration and diversity metrics '
            f'score that view, not the merged prediction; set '
            f'tta_model.type=\'EnsembleScoreTTA\' (the default of --tta) to '
            f'merge them all')
    if 'tta_pipeline' not in cfg:
        pipeline = deepcopy(cfg.test_dataloader.dataset.pipeline)
        pack = pipeline.pop()
        flips = [
            dict(type='RandomFlip', prob=1.),
            dict(type='RandomFlip', prob=0.)
        ]
        pipeline.append(
            dict(type='TestTimeAug', transforms=[flips, [pack]]))
        cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline


def build_config(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line arguments to it.

    Args:
        args (argparse.Namespace): Output of :func:`parse_args`.

    Returns:
        Config: The config to build the runner from.
    """
    cfg = Config.fromfile(args.config)
    # First, as upstream: the flags below see (and override) the options;
    # `model.*` options reach the classifier that --tta wraps.
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.amp:
        cfg.test_cfg.fp16 = True
    if args.show or args.show_dir is not None:
        _enable_visualization(cfg, args)
    if args.tta:
        _enable_tta(cfg)
    # After --cfg-options, so that these fill only what neither sets.
    loader = cfg.get('test_dataloader', None)
    if loader is not None:
        loader.setdefault('pin_memory', torch.cuda.is_available())
        loader.setdefault('collate_fn', dict(type='default_collate'))
        if args.no_pin_memory:
            loader.pin_memory = False
    return cfg


def main(argv: Optional[List[str]] = None) -> dict:
    """Test as configured; returns the metrics."""
    args = parse_args(argv)
    cfg = build_config(args)
    setup_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    if args.out is not None and args.out_item in (None, 'pred'):
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out is not None and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)
    # Free the DDP model first: its reducer holds the process group.
    del runner
    teardown_distributed()
    return metrics


if __name__ == '__main__':
    main()
