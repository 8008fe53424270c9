"""Tests of tools/analysis_tools/cifar10_jpg_study.py (nothing is trained).

A fake archive in the layout of ``cifar10-train-jpg.tar.gz``
(``train/<class>/NNNN.jpg``, 10 classes x 4 JPEGs of 32 x 32) checks the
skip path, the extraction, the stratified seeded split and the generated
configs, which must load with mmengine and build their datasets.
"""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
import tarfile
from typing import Dict, List, Tuple

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS

from tests.conftest import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                  'cifar10_jpg_study.py')
# Written in this (unsorted) order: labels must follow the sorted names.
CLASSES = ('truck', 'airplane', 'ship', 'automobile', 'bird', 'cat', 'deer',
           'dog', 'frog', 'horse')
SORTED = tuple(sorted(CLASSES))
PER_CLASS = 4


def _load_script():
    spec = importlib.util.spec_from_file_location('cifar10_jpg_study',
                                                  SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


study = _load_script()


@pytest.fixture
def fake_archive(tmp_path) -> str:
    """``train/<class>/000N.jpg``: image n of class c is filled with 8c+n."""
    src = tmp_path / 'src'
    archive = str(tmp_path / 'cifar10-train-jpg.tar.gz')
    with tarfile.open(archive, 'w:gz') as tar:
        for c, name in enumerate(CLASSES):
            for n in range(PER_CLASS):
                path = src / 'train' / name / f'{n:04d}.jpg'
                path.parent.mkdir(parents=True, exist_ok=True)
                img = np.full((32, 32, 3), 8 * c + n, dtype=np.uint8)
                assert cv2.imwrite(str(path), img)
        tar.add(str(src / 'train'), arcname='train')
    return archive


def _args(archive: str, tmp_path, work: str = 'work', *extra) -> List[str]:
    return [
        '--archive', archive, '--data-dir',
        str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / work), '--val-per-class', '1', '--dry-run', *extra
    ]


def _read(path: str) -> List[Tuple[str, int]]:
    with open(path) as f:
        lines = [line.rstrip('\n').rsplit(' ', 1) for line in f]
    return [(name, int(label)) for name, label in lines]


def _split(tmp_path, work: str) -> Dict[str, List[Tuple[str, int]]]:
    return {
        part: _read(str(tmp_path / work / f'{part}.txt'))
        for part in ('train', 'val')
    }


def test_skip_when_archive_absent(tmp_path):
    missing = str(tmp_path / 'missing.tar.gz')
    proc = subprocess.run([
        sys.executable, SCRIPT, '--archive', missing, '--data-dir',
        str(tmp_path / 'data'), '--work-dir',
        str(tmp_path / 'work')
    ],
                          stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT,
                          text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout
    assert f'archive not found: {missing}; skipping' in proc.stdout
    # Nothing was extracted or written.
    assert not (tmp_path / 'data').exists()
    assert not (tmp_path / 'work').exists()


def test_default_archive_is_shared_data():
    assert study.DEFAULT_ARCHIVE == osp.normpath(
        osp.join(REPO_ROOT, '..', 'shared', 'data',
                 'cifar10-train-jpg.tar.gz'))
    assert study.parse_args([]).archive == study.DEFAULT_ARCHIVE


def test_split_stratified_deterministic_disjoint(fake_archive, tmp_path,
                                                 capsys):
    assert study.main(_args(fake_archive, tmp_path)) == 0
    out = capsys.readouterr().out
    assert '30 train / 10 val images (1 per class)' in out
    assert 'dry run: not training' in out
    split = _split(tmp_path, 'work')
    all_files = {(f'{name}/{n:04d}.jpg', SORTED.index(name))
                 for name in CLASSES for n in range(PER_CLASS)}
    train, val = set(split['train']), set(split['val'])
    assert len(split['train']) == 30 and len(split['val']) == 10
    assert train.isdisjoint(val)
    assert train | val == all_files  # labels = index of the sorted name
    for label in range(10):
        assert sum(1 for _, lab in split['val'] if lab == label) == 1
        assert sum(1 for _, lab in split['train'] if lab == label) == 3

    # Same seed, other work dir: identical files.
    assert study.main(_args(fake_archive, tmp_path, 'again')) == 0
    assert _split(tmp_path, 'again') == split
    # Another seed: another validation set, still one image per class.
    assert study.main(_args(fake_archive, tmp_path, 'seed1', '--seed',
                            '1')) == 0
    other = _split(tmp_path, 'seed1')
    assert set(other['val']) != val
    assert sorted(lab for _, lab in other['val']) == list(range(10))
    # A training cap keeps the validation set and subsamples the rest.
    assert study.main(
        _args(fake_archive, tmp_path, 'cap', '--train-per-class', '2')) == 0
    capped = _split(tmp_path, 'cap')
    assert capped['val'] == split['val']
    assert set(capped['train']) < train and len(capped['train']) == 20
    for label in range(10):
        assert sum(1 for _, lab in capped['train'] if lab == label) == 2


def test_split_lines_match_numpy_permutation():
    files = {name: [f'{name}/{n:04d}.jpg' for n in range(6)]
             for name in ('a', 'b')}
    train, val = study.split_annotations(('a', 'b'), files, 2, seed=3)
    for label, name in enumerate(('a', 'b')):
        order = np.random.default_rng([3, label]).permutation(6)
        expected_val = [
            f'{name}/{i:04d}.jpg {label}' for i in sorted(order[:2])
        ]
        expected_train = [
            f'{name}/{i:04d}.jpg {label}' for i in sorted(order[2:])
        ]
        assert [v for v in val if v.endswith(f' {label}')] == expected_val
        assert [t for t in train
                if t.endswith(f' {label}')] == expected_train


def test_extraction_is_idempotent(fake_archive, tmp_path):
    data_dir = str(tmp_path / 'data')
    root = study.extract_archive(fake_archive, data_dir)
    assert root == osp.join(data_dir, 'train')
    assert sorted(os.listdir(root)) == list(SORTED)
    target = osp.join(root, 'cat', '0000.jpg')
    with open(target, 'ab') as f:
        f.write(b'edited')
    edited = open(target, 'rb').read()
    study.extract_archive(fake_archive, data_dir)
    assert open(target, 'rb').read() == edited  # not extracted again
    # A changed archive (other mtime) is extracted again.
    stat = os.stat(fake_archive)
    os.utime(fake_archive, (stat.st_atime, stat.st_mtime + 10))
    study.extract_archive(fake_archive, data_dir)
    assert open(target, 'rb').read() != edited


@pytest.mark.parametrize('budget, mixmo_epochs', [('slots', 1),
                                                  ('epochs', 4)])
def test_generated_configs_load_and_build(fake_archive, tmp_path, budget,
                                          mixmo_epochs):
    argv = _args(fake_archive, tmp_path, 'work', '--budget', budget,
                 '--epochs', '4', '--repeats', '4', '--depth', '16',
                 '--widen-factor', '3', '--batch-size', '8',
                 '--num-workers', '0')
    assert study.main(argv) == 0
    work = tmp_path / 'work'
    data_prefix = str(tmp_path / 'data' / 'train')
    # 30 training images: vanilla 4 iterations per epoch (8 per batch),
    # MixMo 15 (2 distinct images x 4 repeats per batch).
    expected = {
        'vanilla': dict(epochs=4, iters=16, warmup=4, lr=0.05),
        'cut-mixmo': dict(
            epochs=mixmo_epochs,
            iters=15 * mixmo_epochs,
            warmup=round(15 * mixmo_epochs / 4),
            lr=0.05 / 4),
    }
    init_default_scope('mmpretrain')
    for method, exp in expected.items():
        cfg = Config.fromfile(str(work / f'{method}_study.py'))
        assert cfg.model.backbone.depth == 16
        assert cfg.model.backbone.widen_factor == 3
        assert cfg.model.head.in_channels == 192
        assert cfg.model.head.num_classes == 10
        # The preprocessor the model is built with converts BGR to RGB.
        preprocessor = cfg.model.get('data_preprocessor') or \
            cfg.data_preprocessor
        assert preprocessor.to_rgb is True
        assert preprocessor.mean == [125.307, 122.961, 113.8575]
        assert cfg.optim_wrapper.optimizer.lr == pytest.approx(exp['lr'])
        assert cfg.optim_wrapper.optimizer.weight_decay == 6e-4
        assert cfg.train_cfg.max_epochs == exp['epochs']
        assert cfg.train_cfg.val_interval == exp['epochs']
        warmup, cosine = cfg.param_scheduler
        assert (warmup.type, warmup.begin, warmup.end,
                warmup.by_epoch) == ('LinearLR', 0, exp['warmup'], False)
        assert (cosine.type, cosine.begin, cosine.end,
                cosine.T_max) == ('CosineAnnealingLR', exp['warmup'],
                                  exp['iters'], exp['iters'] - exp['warmup'])
        assert [e['type'] for e in cfg.val_evaluator] == [
            'Accuracy', 'CalibrationMetric', 'EnsembleDiversityMetric'
        ]
        loader = cfg.train_dataloader
        assert loader.batch_size == 8 and loader.num_workers == 0
        for name, ann, pipeline in (('train', loader, 4),
                                    ('val', cfg.val_dataloader, 2)):
            dataset_cfg = ann.dataset
            assert dataset_cfg.type == 'CustomDataset'
            assert dataset_cfg.ann_file == str(work / f'{name}.txt')
            assert dataset_cfg.data_prefix == data_prefix
            assert dataset_cfg.pipeline[0].type == 'LoadImageFromFile'
            assert len(dataset_cfg.pipeline) == pipeline
            assert cfg.test_dataloader.dataset.ann_file == str(work /
                                                               'val.txt')
            dataset = DATASETS.build(dataset_cfg)
            assert len(dataset) == (30 if name == 'train' else 10)
            assert dataset.metainfo['classes'] == SORTED
            sample = dataset[0]
            assert tuple(sample['inputs'].shape) == (3, 32, 32)
            label = int(sample['data_samples'].gt_label)
            rel = osp.relpath(dataset.get_data_info(0)['img_path'],
                              data_prefix)
            assert SORTED[label] == rel.split(os.sep)[0]
        if method == 'cut-mixmo':
            assert cfg.model.type == 'MixMoClassifier'
            assert loader.batch_sampler == dict(
                type='BatchRepeatSampler', num_repeats=4)
            # Fewer than 12 epochs: no MixingProbHook.
            assert cfg.custom_hooks == []
        else:
            assert cfg.model.type == 'ImageClassifier'
            assert 'batch_sampler' not in loader


def test_plan_runs_equal_slots():
    args = study.parse_args(['--epochs', '8', '--repeats', '4'])
    plans = study.plan_runs(args, 45000)
    vanilla, mixmo = plans['vanilla'], plans['cut-mixmo']
    assert (vanilla['epochs'], vanilla['iters'],
            vanilla['warmup_iters']) == (8, 704 * 8, 704)
    assert (mixmo['epochs'], mixmo['iters'],
            mixmo['warmup_iters']) == (2, 2813 * 2, round(2813 * 2 / 8))
    assert vanilla['slots'] == mixmo['slots'] == 45000 * 8
    args = study.parse_args(['--epochs', '3', '--budget', 'epochs'])
    plans = study.plan_runs(args, 45000)
    assert plans['cut-mixmo']['epochs'] == 3
    assert plans['cut-mixmo']['slots'] == 4 * plans['vanilla']['slots']


def test_invalid_arguments(fake_archive, tmp_path):
    with pytest.raises(ValueError, match=r'--epochs \(6\) must be a multiple'
                       r' of --repeats \(4\)'):
        study.main(_args(fake_archive, tmp_path, 'w', '--epochs', '6'))
    with pytest.raises(ValueError, match='--batch-size'):
        study.main(_args(fake_archive, tmp_path, 'w', '--batch-size', '30'))
    with pytest.raises(ValueError, match='--depth'):
        study.main(_args(fake_archive, tmp_path, 'w', '--depth', '12'))
    with pytest.raises(ValueError, match=r'--val-per-class \(4\) must be '
                       'smaller'):
        study.main(
            _args(fake_archive, tmp_path, 'w', '--val-per-class', '4'))


def test_read_final_metrics_and_table(tmp_path):
    scalars = tmp_path / 'scalars.json'
    records = [
        {'lr': 0.1, 'loss': 2.0, 'iter': 50, 'step': 50},
        {'accuracy/top1': 40.0, 'calibration/nll': 2.0, 'step': 1},
        {'lr': 0.01, 'loss': 1.25, 'iter': 100, 'step': 100},
        {'accuracy/top1': 61.5, 'accuracy/top5': 95.0,
         'calibration/nll': 1.1234, 'calibration/ece': 0.0512,
         'calibration/nll_c': 1.1, 'calibration/ece_c': 0.0123,
         'calibration/temperature': 1.25, 'diversity/head0_top1': 58.0,
         'diversity/head1_top1': 57.5, 'diversity/disagreement': 0.25,
         'diversity/ratio_errors': 0.75, 'step': 2},
    ]
    scalars.write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    metrics = study.read_final_metrics(str(scalars))
    assert metrics['accuracy/top1'] == 61.5 and metrics['train_loss'] == 1.25
    plan = dict(repeats=4, slots=60000)
    result = dict(metrics=metrics, wall=600.0, epoch=1, iter=938)
    vanilla = dict(
        metrics={'accuracy/top1': 63.0, 'calibration/nll': 1.0},
        wall=540.0,
        epoch=4,
        iter=940)
    table = study.format_table([('vanilla', dict(repeats=1, slots=60000),
                                 vanilla), ('cut-mixmo', plan, result)])
    lines = table.splitlines()
    assert len(lines) == 4
    cells = [c.strip() for c in lines[3].strip('|').split('|')]
    assert cells == [
        'cut-mixmo', '4', '1', '938', '60,000', '10.0', '61.50',
        '58.00 / 57.50', '1.1234', '5.12', '1.1000', '1.23', '1.250',
        '0.2500', '0.750'
    ]
    cells = [c.strip() for c in lines[2].strip('|').split('|')]
    assert cells[:9] == [
        'vanilla', '1', '4', '940', '60,000', '9.0', '63.00', '-', '1.0000'
    ]
    assert cells[9:] == ['-'] * 6
