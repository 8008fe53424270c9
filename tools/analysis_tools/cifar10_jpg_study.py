#!/usr/bin/env python
"""Vanilla WRN vs Cut-MixMo on real CIFAR-10 JPEGs at equal budget.

A study script, not a test: it trains two small Wide ResNets on the CIFAR-10
training images shipped as JPEGs (``train/<class>/NNNN.jpg``, quality 75) in
``../shared/data/cifar10-train-jpg.tar.gz`` and prints a comparison table::

    python tools/analysis_tools/cifar10_jpg_study.py \\
        [--archive A] [--data-dir D] [--work-dir W] [--val-per-class 500] \\
        [--train-per-class N] [--epochs 4] [--depth 10] [--widen-factor 2] \\
        [--batch-size 64] [--repeats 4] [--budget {slots,epochs}] \\
        [--num-workers 1] [--seed 0] [--dry-run] [--reuse]

When the archive is absent it prints a message and exits 0 (skips). Steps:

1. Extract the archive once into ``--data-dir`` (outside the repository; the
   archive is only read). A marker file records the archive's size and
   mtime, so later runs skip the extraction.
2. Split a validation set off the training images: ``--val-per-class``
   images of every class (stratified), drawn with a seeded permutation of
   the sorted file names of the class, so the split depends only on the
   file list and ``--seed``. The two annotation files
   (``relative/path label`` lines for mmpretrain's ``CustomDataset``) are
   written to ``--work-dir``, never into the repository.
3. Write two configs to ``--work-dir`` that inherit the repository configs
   ``configs/baselines/vanilla_wrn28-10_1xb64_cifar10.py`` and
   ``configs/mixmo/cut-mixmo_wrn28-10_1xb64-b4_cifar10.py`` (by absolute
   path) and override only the backbone size, the data (``CustomDataset``
   with ``LoadImageFromFile`` before the CIFAR augmentation;
   ``to_rgb=True`` because OpenCV decodes JPEGs as BGR while the CIFAR
   pickles of the base configs are RGB), the schedule and the batch
   repetition. Optimiser, weight decay, lr rule (0.05 / b at 64 slots),
   model, loss and evaluators (Accuracy, CalibrationMetric,
   EnsembleDiversityMetric) are the repository's.
4. Train each with ``tools/train.py`` in a subprocess (``--auto-scale-lr``,
   a no-op at 64 slots per batch), read the final validation metrics from
   ``vis_data/scalars.json`` and print the table.

**Budget.** ``--budget slots`` (default) gives both runs the same number of
training slots, i.e. forward/backward sample passes with repeats included:
the vanilla run trains ``--epochs`` epochs; with batch repetition b every
MixMo epoch processes each distinct image b times (b times more steps at the
same batch size), so MixMo trains ``--epochs / b`` epochs. Both runs then
cost about the same compute (MixMo adds only M - 1 first convolutions).
``--budget epochs`` trains both for ``--epochs`` epochs, as in the paper
(same distinct images, MixMo b times more compute).

**Schedule.** Short and iteration-based so that it has the same shape
under both budgets: linear warm-up over the first ``1 / --epochs`` of the
iterations (one vanilla epoch, as the paper's one-epoch warm-up), then
cosine annealing to 0 (instead of the paper's step decay at 1/3, 2/3, 3/4
of 300 epochs, which a few epochs cannot resolve). Validation runs once, at
the end. Cut-MixMo's ``MixingProbHook`` decays p once per epoch and always
sets p = 0 in the final epoch; with fewer than ``1 / decay_fraction = 12``
MixMo epochs that would switch cut mixing off for more than the last 1/12
of training (for all of it with one epoch), so the script then removes the
hook (p stays 0.5 throughout) and says so.
"""
import argparse
import json
import math
import os
import os.path as osp
import subprocess
import sys
import tarfile
import time
from typing import Dict, List, Optional, Sequence, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_ARCHIVE = osp.normpath(
    osp.join(REPO_ROOT, '..', 'shared', 'data', 'cifar10-train-jpg.tar.gz'))
VANILLA_BASE = osp.join(REPO_ROOT, 'configs', 'baselines',
                        'vanilla_wrn28-10_1xb64_cifar10.py')
MIXMO_BASE = osp.join(REPO_ROOT, 'configs', 'mixmo',
                      'cut-mixmo_wrn28-10_1xb64-b4_cifar10.py')
TRAIN_TOOL = osp.join(REPO_ROOT, 'tools', 'train.py')
METHODS = ('vanilla', 'cut-mixmo')
MARKER = '.extracted.json'
RESULT_FILE = 'study_result.json'
# Base lr of the repository's CIFAR recipes for a global batch of 64 slots;
# MixMo divides it by b (configs/_base_/schedules/cifar_300e.py).
BASE_BATCH_SIZE = 64
# Cut-MixMo's p decay spans the last 1/12 of the epochs
# (configs/_base_/models/mixmo_wrn28-10_cifar100.py).
PROB_DECAY_EPOCHS = 12


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Train a small vanilla WRN and a Cut-MixMo WRN on the '
        'CIFAR-10 training JPEGs (validation split off the training images) '
        'at equal budget and compare accuracy and calibration.')
    parser.add_argument(
        '--archive',
        default=DEFAULT_ARCHIVE,
        help='tar.gz of train/<class>/NNNN.jpg; if it is absent the script '
        'skips (exit 0). Default: ../shared/data/cifar10-train-jpg.tar.gz '
        'relative to the repository root')
    parser.add_argument(
        '--data-dir',
        default='/tmp/mmmixmo_cifar10_jpg',
        help='where the archive is extracted (once); keep it outside the '
        'repository')
    parser.add_argument(
        '--work-dir',
        default='/tmp/mmmixmo_cifar10_jpg_study',
        help='annotation files, generated configs, logs and checkpoints')
    parser.add_argument(
        '--val-per-class',
        type=int,
        default=500,
        help='validation images per class, split off the training images')
    parser.add_argument(
        '--train-per-class',
        type=int,
        default=None,
        help='use at most this many of the remaining images per class for '
        'training (default: all of them)')
    parser.add_argument(
        '--epochs',
        type=int,
        default=4,
        help='epochs of the vanilla run; MixMo trains epochs / repeats '
        'epochs with --budget slots, epochs with --budget epochs')
    parser.add_argument(
        '--depth', type=int, default=10, help='WRN depth (6n + 4)')
    parser.add_argument(
        '--widen-factor', type=int, default=2, help='WRN width k')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=BASE_BATCH_SIZE,
        help='training batch size in slots (repeats included) for both '
        'runs; the lr is scaled linearly from 64')
    parser.add_argument(
        '--repeats',
        type=int,
        default=4,
        help='batch repetition b of MixMo (its lr is 0.05 / b at 64 slots)')
    parser.add_argument(
        '--budget',
        choices=['slots', 'epochs'],
        default='slots',
        help='slots: same number of training slots processed (images seen '
        'with repeats, i.e. same forward/backward sample passes); epochs: '
        'same number of epochs over the distinct images')
    parser.add_argument(
        '--num-workers',
        type=int,
        default=1,
        help='dataloader workers per run (the machine is shared: keep 1-2)')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='OMP/MKL threads of each training process (1 is fastest on a '
        'shared, oversubscribed CPU)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the split and training')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='extract, split and write the configs, print the commands, but '
        'do not train')
    parser.add_argument(
        '--reuse',
        action='store_true',
        help='do not retrain a method whose run in the work dir finished '
        'with the same config; read its saved result')
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Reject arguments that cannot give a valid study.

    Raises:
        ValueError: Naming the offending option.
    """
    for name in ('val_per_class', 'epochs', 'widen_factor', 'batch_size',
                 'repeats', 'threads'):
        value = getattr(args, name)
        if value < 1:
            raise ValueError(f'--{name.replace("_", "-")} must be >= 1, '
                             f'got {value}')
    if args.train_per_class is not None and args.train_per_class < 1:
        raise ValueError('--train-per-class must be >= 1, got '
                         f'{args.train_per_class}')
    if args.num_workers < 0:
        raise ValueError(f'--num-workers must be >= 0, got {args.num_workers}')
    if args.depth < 10 or (args.depth - 4) % 6 != 0:
        raise ValueError('--depth must be >= 10 with (depth - 4) % 6 == 0, '
                         f'got {args.depth}')
    if args.batch_size % args.repeats != 0:
        raise ValueError(f'--batch-size ({args.batch_size}) must be a '
                         f'multiple of --repeats ({args.repeats})')
    if args.budget == 'slots' and args.epochs % args.repeats != 0:
        raise ValueError(
            f'--epochs ({args.epochs}) must be a multiple of --repeats '
            f'({args.repeats}) with --budget slots (MixMo trains epochs / '
            'repeats epochs)')


def extract_archive(archive: str, data_dir: str) -> str:
    """Extract the archive into ``data_dir`` unless that was done already.

    A marker ``data_dir/.extracted.json`` written after a complete
    extraction records the archive's absolute path, size and mtime; the
    extraction is skipped when it matches. The archive is only read.

    Args:
        archive (str): Path of the ``.tar.gz``.
        data_dir (str): Destination folder, created if needed.

    Returns:
        str: The image root ``data_dir/train`` (one folder per class).

    Raises:
        RuntimeError: If the archive has no ``train/`` folder.
    """
    stat = os.stat(archive)
    stamp = dict(
        archive=osp.abspath(archive),
        size=stat.st_size,
        mtime=int(stat.st_mtime))
    image_root = osp.join(data_dir, 'train')
    marker = osp.join(data_dir, MARKER)
    if osp.isfile(marker) and osp.isdir(image_root):
        with open(marker) as f:
            if json.load(f) == stamp:
                return image_root
    os.makedirs(data_dir, exist_ok=True)
    with tarfile.open(archive, 'r:*') as tar:
        # 'data' rejects absolute paths, links outside and device files.
        tar.extractall(data_dir, filter='data')
    if not osp.isdir(image_root):
        raise RuntimeError(f'{archive} has no train/ folder (expected '
                           'train/<class>/NNNN.jpg)')
    with open(marker, 'w') as f:
        json.dump(stamp, f)
    return image_root


def list_images(image_root: str) -> Tuple[List[str], Dict[str, List[str]]]:
    """List the JPEGs of every class folder.

    Args:
        image_root (str): Folder with one sub-folder per class.

    Returns:
        tuple: ``(classes, files)``: the class names sorted alphabetically
        (their index is the label; for CIFAR-10 this is the usual order
        airplane .. truck) and, per class, the sorted file names relative to
        ``image_root`` (``class/NNNN.jpg``).

    Raises:
        RuntimeError: If there is no class folder or a class has no JPEG.
    """
    classes = sorted(
        name for name in os.listdir(image_root)
        if osp.isdir(osp.join(image_root, name)))
    if not classes:
        raise RuntimeError(f'no class folder in {image_root}')
    files = {}
    for name in classes:
        names = sorted(
            f for f in os.listdir(osp.join(image_root, name))
            if f.lower().endswith(('.jpg', '.jpeg')))
        if not names:
            raise RuntimeError(f'no JPEG in {osp.join(image_root, name)}')
        files[name] = [f'{name}/{f}' for f in names]
    return classes, files


def split_annotations(
        classes: Sequence[str],
        files: Dict[str, List[str]],
        val_per_class: int,
        seed: int,
        train_per_class: Optional[int] = None
) -> Tuple[List[str], List[str]]:
    """Stratified, seeded train/validation split as annotation lines.

    For class ``c`` (label = its index in ``classes``) the sorted file list
    is permuted with ``numpy.random.default_rng([seed, c])``; the first
    ``val_per_class`` files go to validation, the next ``train_per_class``
    (default: all the rest) to training.

    Args:
        classes (Sequence[str]): Class names; the index is the label.
        files (dict[str, list[str]]): Sorted relative paths per class.
        val_per_class (int): Validation images per class.
        seed (int): Seed of the split.
        train_per_class (int, optional): Cap on the training images per
            class. Defaults to None (all remaining).

    Returns:
        tuple[list[str], list[str]]: Train and validation lines
        ``'class/NNNN.jpg label'``, sorted by label then path.

    Raises:
        ValueError: If a class has no image left for training.
    """
    import numpy as np
    train, val = [], []
    for label, name in enumerate(classes):
        names = files[name]
        if val_per_class >= len(names):
            raise ValueError(
                f'--val-per-class ({val_per_class}) must be smaller than the '
                f'number of images of class {name!r} ({len(names)})')
        order = np.random.default_rng([seed, label]).permutation(len(names))
        val_idx = sorted(order[:val_per_class])
        rest = order[val_per_class:]
        if train_per_class is not None:
            rest = rest[:train_per_class]
        val += [f'{names[i]} {label}' for i in val_idx]
        train += [f'{names[i]} {label}' for i in sorted(rest)]
    return train, val


def write_lines(path: str, lines: Sequence[str]) -> None:
    """Write ``lines`` to ``path``, one per line."""
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def plan_runs(args: argparse.Namespace, num_train: int) -> Dict[str, dict]:
    """Epochs, iterations and slots of both runs under the chosen budget.

    Args:
        args (argparse.Namespace): Parsed and checked arguments.
        num_train (int): Number of distinct training images.

    Returns:
        dict[str, dict]: Per method: ``repeats``, ``epochs``,
        ``iters_per_epoch``, ``iters``, ``warmup_iters``, ``slots`` (samples
        processed, repeats included) and ``distinct_per_batch``.
    """
    plans = {}
    for method in METHODS:
        b = 1 if method == 'vanilla' else args.repeats
        if method == 'vanilla' or args.budget == 'epochs':
            epochs = args.epochs
        else:
            epochs = args.epochs // b
        distinct = args.batch_size // b
        # drop_last=False: the last batch of an epoch may be smaller.
        iters_per_epoch = math.ceil(num_train / distinct)
        iters = iters_per_epoch * epochs
        plans[method] = dict(
            repeats=b,
            epochs=epochs,
            iters_per_epoch=iters_per_epoch,
            iters=iters,
            warmup_iters=max(1, round(iters / args.epochs)),
            slots=num_train * b * epochs,
            distinct_per_batch=distinct)
    return plans


def make_config(method: str, plan: dict, args: argparse.Namespace,
                classes: Sequence[str], image_root: str, train_ann: str,
                val_ann: str, lr: float) -> Tuple[str, List[str]]:
    """Text of the generated config of one method.

    Args:
        method (str): ``'vanilla'`` or ``'cut-mixmo'``.
        plan (dict): The method's entry of :func:`plan_runs`.
        args (argparse.Namespace): Parsed arguments.
        classes (Sequence[str]): Class names in label order.
        image_root (str): Absolute image folder (``data_prefix``).
        train_ann (str): Absolute training annotation file.
        val_ann (str): Absolute validation annotation file.
        lr (float): Learning rate at 64 slots per batch.

    Returns:
        tuple[str, list[str]]: The config text and notes to print.
    """
    mixmo = method != 'vanilla'
    base = MIXMO_BASE if mixmo else VANILLA_BASE
    epochs, iters, warmup = plan['epochs'], plan['iters'], plan[
        'warmup_iters']
    width = 64 * args.widen_factor
    notes = []
    lines = [
        f'# Generated by tools/analysis_tools/cifar10_jpg_study.py: {method}',
        f'# WRN-{args.depth}-{args.widen_factor} on CIFAR-10 JPEGs, budget '
        f'{args.budget!r}, {epochs} epoch(s), {iters} iterations.',
        f'_base_ = [{base!r}]',
        '',
        'model = dict(',
        f'    backbone=dict(depth={args.depth}, '
        f'widen_factor={args.widen_factor}),',
        f'    head=dict(in_channels={width}),',
    ]
    # OpenCV decodes JPEGs as BGR; the base configs expect RGB pickles.
    # MixMo's preprocessor is `model.data_preprocessor`; the vanilla model
    # takes the top-level one (set in both for clarity).
    if mixmo:
        lines.append('    data_preprocessor=dict(to_rgb=True))')
    else:
        lines.append(')')
    lines.append('data_preprocessor = dict(to_rgb=True)')
    lines += [
        '',
        f'classes = {tuple(classes)!r}',
        'train_pipeline = [',
        "    dict(type='LoadImageFromFile'),",
        "    dict(type='RandomCrop', crop_size=32, padding=4),",
        "    dict(type='RandomFlip', prob=0.5, direction='horizontal'),",
        "    dict(type='PackInputs'),",
        ']',
        "test_pipeline = [dict(type='LoadImageFromFile'), "
        "dict(type='PackInputs')]",
        'train_dataloader = dict(',
        f'    batch_size={args.batch_size},',
        f'    num_workers={args.num_workers},',
        f'    persistent_workers={args.num_workers > 0},',
    ]
    if mixmo:
        lines.append('    batch_sampler=dict(type=\'BatchRepeatSampler\', '
                     f'num_repeats={plan["repeats"]}),')
    lines += [
        f'    dataset=dict(_delete_=True, type=\'CustomDataset\', '
        f'data_prefix={image_root!r},',
        f'                 ann_file={train_ann!r},',
        '                 metainfo=dict(classes=classes), '
        'pipeline=train_pipeline))',
        'val_dataloader = dict(',
        f'    batch_size=128, num_workers={args.num_workers}, '
        f'persistent_workers=False,',
        f'    dataset=dict(_delete_=True, type=\'CustomDataset\', '
        f'data_prefix={image_root!r},',
        f'                 ann_file={val_ann!r},',
        '                 metainfo=dict(classes=classes), '
        'pipeline=test_pipeline))',
        'test_dataloader = val_dataloader',
        '',
        f'optim_wrapper = dict(optimizer=dict(lr={lr!r}))',
        'param_scheduler = [',
        '    dict(type=\'LinearLR\', start_factor=1e-3, by_epoch=False, '
        f'begin=0, end={warmup}),',
        '    dict(type=\'CosineAnnealingLR\', eta_min=0.0, by_epoch=False, '
        f'begin={warmup}, end={iters}, T_max={iters - warmup}),',
        ']',
        f'train_cfg = dict(by_epoch=True, max_epochs={epochs}, '
        f'val_interval={epochs})',
        'default_hooks = dict(logger=dict(interval=50), '
        f'checkpoint=dict(interval={epochs}))',
        f'randomness = dict(seed={args.seed}, deterministic=False)',
    ]
    if mixmo and epochs < PROB_DECAY_EPOCHS:
        lines.append('# Fewer than 12 epochs: MixingProbHook would zero p in '
                     'the whole last epoch.')
        lines.append('custom_hooks = []')
        notes.append(f'cut-mixmo: {epochs} epoch(s) < {PROB_DECAY_EPOCHS}: '
                     'MixingProbHook removed, p = 0.5 throughout (the hook '
                     'would set p = 0 for the whole last epoch)')
    return '\n'.join(lines) + '\n', notes


def base_lr() -> float:
    """The lr of the vanilla base config (at 64 slots per batch)."""
    from mmengine.config import Config
    cfg = Config.fromfile(VANILLA_BASE, import_custom_modules=False)
    return float(cfg.optim_wrapper.optimizer.lr)


def latest_scalars(run_dir: str) -> str:
    """Path of ``vis_data/scalars.json`` of the latest run in ``run_dir``."""
    stamps = sorted(
        d for d in os.listdir(run_dir)
        if osp.isfile(osp.join(run_dir, d, 'vis_data', 'scalars.json')))
    if not stamps:
        raise RuntimeError(f'no vis_data/scalars.json under {run_dir}')
    return osp.join(run_dir, stamps[-1], 'vis_data', 'scalars.json')


def read_final_metrics(scalars: str) -> Dict[str, float]:
    """The last validation record of a ``scalars.json`` log.

    Args:
        scalars (str): Path of mmengine's ``vis_data/scalars.json`` (one json
            dict per line).

    Returns:
        dict[str, float]: The record with ``accuracy/top1``, plus
        ``train_loss`` (last logged training loss) when present.

    Raises:
        RuntimeError: If the log has no validation record.
    """
    val, loss = None, None
    with open(scalars) as f:
        for line in f:
            if not line.strip():
                continue
            record = json.loads(line)
            if 'accuracy/top1' in record:
                val = record
            elif 'loss' in record:
                loss = record['loss']
    if val is None:
        raise RuntimeError(f'no validation record (accuracy/top1) in '
                           f'{scalars}')
    if loss is not None:
        val = dict(val, train_loss=loss)
    return val


def checkpoint_meta(run_dir: str) -> Dict[str, int]:
    """``epoch`` and ``iter`` stored in the run's last checkpoint."""
    import torch
    with open(osp.join(run_dir, 'last_checkpoint')) as f:
        path = f.read().strip()
    meta = torch.load(path, map_location='cpu', weights_only=False)['meta']
    return dict(epoch=int(meta['epoch']), iter=int(meta['iter']))


def train(method: str, config: str, config_text: str, run_dir: str,
          reuse: bool, threads: int = 1) -> dict:
    """Train one config with tools/train.py, return its result.

    The result (metrics, wall time, checkpoint epoch and iteration) is also
    saved to ``run_dir/study_result.json`` together with the config text;
    with ``reuse`` a saved result of the same config text is returned
    without training.

    Args:
        method (str): Method name (for messages).
        config (str): Path of the generated config.
        config_text (str): Its text.
        run_dir (str): Work dir of the run.
        reuse (bool): Whether to reuse a finished run.
        threads (int): ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` of the
            training process. Defaults to 1.

    Returns:
        dict: ``metrics``, ``wall`` (seconds, the whole subprocess),
        ``epoch``, ``iter``.
    """
    result_file = osp.join(run_dir, RESULT_FILE)
    if reuse and osp.isfile(result_file):
        with open(result_file) as f:
            saved = json.load(f)
        if saved.get('config_text') == config_text:
            print(f'[{method}] reusing {result_file}', flush=True)
            return saved
    os.makedirs(run_dir, exist_ok=True)
    log = osp.join(run_dir, 'train_stdout.log')
    cmd = [
        sys.executable, TRAIN_TOOL, config, '--work-dir', run_dir,
        '--auto-scale-lr'
    ]
    print(f'[{method}] OMP_NUM_THREADS={threads} {" ".join(cmd)}\n'
          f'[{method}] log: {log}', flush=True)
    env = dict(
        os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    start = time.time()
    with open(log, 'w') as out:
        proc = subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, cwd=run_dir, env=env)
    wall = time.time() - start
    if proc.returncode != 0:
        with open(log) as f:
            tail = f.readlines()[-40:]
        raise RuntimeError(f'{method} training failed (exit '
                           f'{proc.returncode}); end of {log}:\n' +
                           ''.join(tail))
    result = dict(
        metrics=read_final_metrics(latest_scalars(run_dir)),
        wall=wall,
        **checkpoint_meta(run_dir),
        config_text=config_text)
    with open(result_file, 'w') as f:
        json.dump(result, f, indent=1)
    print(f'[{method}] done in {wall / 60:.1f} min', flush=True)
    return result


def _fmt(value: Optional[float], scale: float = 1.0, digits: int = 2) -> str:
    return '-' if value is None else f'{value * scale:.{digits}f}'


def format_table(rows: Sequence[Tuple[str, dict, dict]]) -> str:
    """Comparison table of the runs.

    Args:
        rows: ``(method, plan, result)`` per run.

    Returns:
        str: A Markdown table. top-1 and head top-1 in %, NLL in nats, ECE
        in %, disagreement as a fraction, ratio-err dimensionless.
    """
    header = [
        'method', 'b', 'epochs', 'iters', 'slots seen', 'wall (min)',
        'top-1', 'head top-1', 'NLL', 'ECE %', 'NLL_c', 'ECE_c %', 'T',
        'disagree', 'ratio-err'
    ]
    table = [header]
    for method, plan, result in rows:
        m = result['metrics']
        heads = [
            m[key] for key in sorted(m)
            if key.startswith('diversity/head') and key.endswith('_top1')
        ]
        table.append([
            method,
            str(plan['repeats']),
            str(result['epoch']),
            str(result['iter']),
            f'{plan["slots"]:,}',
            _fmt(result['wall'], 1 / 60, 1),
            _fmt(m.get('accuracy/top1')),
            ' / '.join(_fmt(h) for h in heads) or '-',
            _fmt(m.get('calibration/nll'), digits=4),
            _fmt(m.get('calibration/ece'), 100),
            _fmt(m.get('calibration/nll_c'), digits=4),
            _fmt(m.get('calibration/ece_c'), 100),
            _fmt(m.get('calibration/temperature'), digits=3),
            _fmt(m.get('diversity/disagreement'), digits=4),
            _fmt(m.get('diversity/ratio_errors'), digits=3),
        ])
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    out = []
    for n, row in enumerate(table):
        out.append('| ' + ' | '.join(
            cell.ljust(w) for cell, w in zip(row, widths)) + ' |')
        if n == 0:
            out.append('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    return '\n'.join(out)


def prepare(args: argparse.Namespace) -> dict:
    """Extract, split, write annotation files and configs.

    Args:
        args (argparse.Namespace): Parsed and checked arguments.

    Returns:
        dict: ``image_root``, ``classes``, ``train_ann``, ``val_ann``,
        ``num_train``, ``num_val``, ``plans``, ``configs`` (method -> path),
        ``config_texts`` and ``notes``.
    """
    data_dir = osp.abspath(args.data_dir)
    work_dir = osp.abspath(args.work_dir)
    image_root = extract_archive(args.archive, data_dir)
    classes, files = list_images(image_root)
    train_lines, val_lines = split_annotations(classes, files,
                                               args.val_per_class, args.seed,
                                               args.train_per_class)
    os.makedirs(work_dir, exist_ok=True)
    train_ann = osp.join(work_dir, 'train.txt')
    val_ann = osp.join(work_dir, 'val.txt')
    write_lines(train_ann, train_lines)
    write_lines(val_ann, val_lines)
    plans = plan_runs(args, len(train_lines))
    lr = base_lr()
    configs, texts, notes = {}, {}, []
    for method in METHODS:
        run_lr = lr / plans[method]['repeats']
        text, method_notes = make_config(method, plans[method], args,
                                         classes, image_root, train_ann,
                                         val_ann, run_lr)
        path = osp.join(work_dir, f'{method}_study.py')
        with open(path, 'w') as f:
            f.write(text)
        configs[method], texts[method] = path, text
        notes += method_notes
    return dict(
        image_root=image_root,
        classes=classes,
        train_ann=train_ann,
        val_ann=val_ann,
        num_train=len(train_lines),
        num_val=len(val_lines),
        plans=plans,
        configs=configs,
        config_texts=texts,
        notes=notes)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the study; return the exit code."""
    args = parse_args(argv)
    if not osp.isfile(args.archive):
        print(f'cifar10_jpg_study: archive not found: {args.archive}; '
              'skipping the study (pass --archive to point at '
              'cifar10-train-jpg.tar.gz).')
        return 0
    check_args(args)
    info = prepare(args)
    plans = info['plans']
    print(f'data: {info["image_root"]} ({len(info["classes"])} classes); '
          f'split seed {args.seed}: {info["num_train"]} train / '
          f'{info["num_val"]} val images ({args.val_per_class} per class)')
    print(f'annotations: {info["train_ann"]}, {info["val_ann"]}')
    if args.budget == 'slots':
        print(f'budget "slots": both runs process '
              f'{plans["vanilla"]["slots"]:,} training slots (images seen '
              'including repeats = forward/backward sample passes); '
              f'vanilla {plans["vanilla"]["epochs"]} epochs at b = 1, '
              f'Cut-MixMo {plans["cut-mixmo"]["epochs"]} epoch(s) at b = '
              f'{args.repeats}')
    else:
        print(f'budget "epochs": both runs train {args.epochs} epochs over '
              f'the same distinct images; Cut-MixMo (b = {args.repeats}) '
              f'processes {args.repeats}x the slots of vanilla')
    print(f'model: WRN-{args.depth}-{args.widen_factor}, batch '
          f'{args.batch_size} slots; lr warm-up over the first 1/{args.epochs}'
          ' of the iterations (one vanilla epoch), then cosine to 0; '
          'validation once, at the end')
    for note in info['notes']:
        print(f'note: {note}')
    for method in METHODS:
        print(f'config {method}: {info["configs"][method]}')
    if args.dry_run:
        print('dry run: not training')
        return 0
    rows = []
    for method in METHODS:
        result = train(method, info['configs'][method],
                       info['config_texts'][method],
                       osp.join(osp.abspath(args.work_dir), method),
                       args.reuse, args.threads)
        rows.append((method, plans[method], result))
    print()
    print(f'CIFAR-10 JPEG study: WRN-{args.depth}-{args.widen_factor}, '
          f'{info["num_train"]} train / {info["num_val"]} val images, '
          f'budget {args.budget!r}, seed {args.seed}')
    print(format_table(rows))
    print('top-1, head top-1 and ECE in %, NLL in nats, _c = after two-fold '
          'temperature scaling (T: fitted temperature), disagree = fraction '
          'of val images on which the two heads disagree, ratio-err = '
          '(N01 + N10) / N00; wall = whole tools/train.py subprocess '
          '(startup and final validation included).')
    return 0


if __name__ == '__main__':
    sys.exit(main())
