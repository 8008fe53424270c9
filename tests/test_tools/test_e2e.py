"""End-to-end tests of tools/: the real scripts as subprocesses.

A tiny Cut-MixMo (tests/data/configs/tiny_cifar10.py, the real CIFAR-10
Cut-MixMo config with a WRN-10-1) trains on a fake CIFAR-10 of 64 training and
32 test images (batch 16 slots = 8 distinct images x 2 repeats, so 64 / 8 = 8
iterations per epoch). Every tool runs from a temporary working directory
outside the repository, by absolute path, without PYTHONPATH. One 2-epoch
training run is shared by the tests that need a trained work dir.
"""
import json
import os
import os.path as osp
import pickle
import re
import shutil
import socket
import subprocess
import sys
import time
from typing import Dict, Iterable, List, Optional

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import CheckpointLoader, Runner, load_checkpoint
from mmpretrain.registry import DATASETS, MODELS

import mmmixmo  # noqa: F401  (the checkpoint loader reads mmengine's files)
from tests.conftest import REPO_ROOT
from tests.utils.fake_svhn import make_fake_svhn

TOOLS = osp.join(REPO_ROOT, 'tools')
CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_cifar10.py')
OOD_CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs',
                      'tiny_cifar10_vs-svhn.py')
NUM_TRAIN = 64
IMAGES_PER_STEP = 8  # train_dataloader.batch_size
NUM_REPEATS = 2  # b: 16 slots per step
ITERS_PER_EPOCH = NUM_TRAIN // IMAGES_PER_STEP
TIMEOUT = 300


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    # `python` in dist_*.sh is this interpreter (the venv's).
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    env['PYTHON'] = sys.executable
    # One BLAS/OpenMP thread per process: on the shared 2-core machine more
    # threads only oversubscribe (torchrun does the same for its workers).
    env['OMP_NUM_THREADS'] = '1'
    return env


def _run(args: List[str], cwd: str, fails: bool = False, **env) -> str:
    """Run a command, fail with its output unless it exits 0 (non-zero with
    ``fails``); return its stdout and stderr."""
    start = time.time()
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=dict(_env(), **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT)
    print(f'{" ".join(args[:3])} ...: {time.time() - start:.1f} s')
    assert (proc.returncode != 0) == fails, (
        f'{args} exited with {proc.returncode}:\n{proc.stdout[-6000:]}')
    return proc.stdout


def _data_options(data_root: str) -> List[str]:
    return [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def _free_port() -> str:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return str(sock.getsockname()[1])


def _scalars(work_dir: str,
             runs: Optional[Iterable[str]] = None) -> List[dict]:
    """The scalars.json records of the runs (all by default) of a work dir."""
    records = []
    for run in sorted(os.listdir(work_dir) if runs is None else runs):
        path = osp.join(work_dir, run, 'vis_data', 'scalars.json')
        if osp.isfile(path):
            with open(path) as f:
                records.extend(json.loads(line) for line in f)
    return records


def _load(path: str) -> dict:
    return CheckpointLoader.load_checkpoint(path, map_location='cpu')


def _metric(output: str, pattern: str, key: str = 'accuracy/top1') -> float:
    """The value of `key` on the last log line that matches `pattern`."""
    lines = [line for line in output.splitlines() if re.search(pattern, line)]
    assert lines, f'no line matching {pattern!r} in:\n{output[-3000:]}'
    match = re.search(re.escape(key) + r': ([0-9.]+)', lines[-1])
    assert match, lines[-1]
    return float(match.group(1))


def test_an_epoch_is_8_steps_of_16_slots(fake_cifar10_root):
    """The tiny config's training data, in-process: every step is 8 images,
    each in 2 slots of every member, 8 steps per epoch."""
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmpretrain')
    # tools/train.py's collate_fn
    loader = Runner.build_dataloader(
        dict(
            cfg.train_dataloader,
            dataset=dict(
                cfg.train_dataloader.dataset, data_root=fake_cifar10_root),
            collate_fn=dict(type='default_collate')))
    preprocessor = MODELS.build(cfg.model).data_preprocessor
    steps = 0
    for batch in loader:
        assert len(batch['data_samples']) == IMAGES_PER_STEP
        data = preprocessor(batch, training=True)
        slots = IMAGES_PER_STEP * NUM_REPEATS
        assert data['inputs'].shape == (slots, 2, 3, 32, 32)
        steps += 1
    assert steps == ITERS_PER_EPOCH


@pytest.fixture(scope='module')
def trained(tmp_path_factory, fake_cifar10_root):
    """`tools/train.py` for 2 epochs; returns its work dir and output."""
    cwd = str(tmp_path_factory.mktemp('train_cwd'))
    work_dir = osp.join(cwd, 'work_dir')
    output = _run([
        sys.executable,
        osp.join(TOOLS, 'train.py'), CONFIG, '--work-dir', work_dir,
        '--cfg-options', *_data_options(fake_cifar10_root)
    ], cwd)
    return dict(work_dir=work_dir, output=output, cwd=cwd)


def test_train_writes_checkpoints_and_validates(trained):
    work_dir = trained['work_dir']
    for epoch in (1, 2):
        ckpt = _load(osp.join(work_dir, f'epoch_{epoch}.pth'))
        assert ckpt['meta']['epoch'] == epoch
        assert ckpt['meta']['iter'] == epoch * ITERS_PER_EPOCH
        # CIFAR's arrays are RGB (ChannelOrderHook)
        assert ckpt['meta']['channel_order'] == 'rgb'
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        assert f.read().strip() == osp.join(work_dir, 'epoch_2.pth')

    records = _scalars(work_dir)
    train = [r for r in records if 'loss' in r]
    val = [r for r in records if 'accuracy/top1' in r]
    assert [r['iter'] for r in train] == list(
        range(1, 2 * ITERS_PER_EPOCH + 1))
    # one loss per head, summed into `loss`
    for r in train:
        assert r['loss'] == pytest.approx(
            r['loss_head0'] + r['loss_head1'], rel=1e-3, abs=1e-3)
    # One validation per epoch, with an accuracy in [0, 100].
    assert [r['step'] for r in val] == [1, 2]
    assert all(0 <= r['accuracy/top1'] <= 100 for r in val)
    # The MultiStepLR milestone at epoch 1 halves the learning rate.
    assert [r['lr'] for r in train] == \
        [0.05] * ITERS_PER_EPOCH + [0.025] * ITERS_PER_EPOCH
    assert _metric(trained['output'], r'Epoch\(val\) \[2\]') == \
        val[1]['accuracy/top1']


def test_resume_finishes_an_interrupted_run(trained, tmp_path,
                                            fake_cifar10_root):
    # The run "crashed" after epoch 1: same work dir without epoch 2.
    work_dir = str(tmp_path / 'work_dir')
    shutil.copytree(trained['work_dir'], work_dir)
    os.remove(osp.join(work_dir, 'epoch_2.pth'))
    with open(osp.join(work_dir, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work_dir, 'epoch_1.pth'))
    runs_before = set(os.listdir(work_dir))

    output = _run([
        sys.executable,
        osp.join(TOOLS, 'train.py'), CONFIG, '--work-dir', work_dir,
        '--resume', '--cfg-options', *_data_options(fake_cifar10_root)
    ], str(tmp_path))

    assert f'resumed epoch: 1, iter: {ITERS_PER_EPOCH}' in output
    assert 'Epoch(train) [1]' not in output
    assert f'Epoch(train) [2][{ITERS_PER_EPOCH}/{ITERS_PER_EPOCH}]' in output
    resumed = _load(osp.join(work_dir, 'epoch_2.pth'))
    uninterrupted = _load(osp.join(trained['work_dir'], 'epoch_2.pth'))
    for key in ('epoch', 'iter', 'seed'):
        assert resumed['meta'][key] == uninterrupted['meta'][key]
    assert resumed['meta']['iter'] == 2 * ITERS_PER_EPOCH
    # The scheduler state came back too: the same learning rate at the end.
    assert resumed['optimizer']['param_groups'][0]['lr'] == \
        uninterrupted['optimizer']['param_groups'][0]['lr'] == 0.025
    # The new run logged exactly the iterations of epoch 2.
    records = _scalars(work_dir, set(os.listdir(work_dir)) - runs_before)
    assert [r['iter'] for r in records if 'loss' in r] == list(
        range(ITERS_PER_EPOCH + 1, 2 * ITERS_PER_EPOCH + 1))
    assert [r['step'] for r in records if 'accuracy/top1' in r] == [2]


def test_resume_refuses_a_checkpoint_of_another_model(
        trained, tmp_path, fake_cifar10_root):
    work_dir = str(tmp_path / 'work_dir')
    shutil.copytree(trained['work_dir'], work_dir)
    output = _run([
        sys.executable,
        osp.join(TOOLS, 'train.py'), CONFIG, '--work-dir', work_dir,
        '--resume', '--cfg-options', 'model.num_members=3',
        *_data_options(fake_cifar10_root)
    ], str(tmp_path), fails=True)
    assert 'CheckpointMismatchError: checkpoint ' in output
    assert f"into the model of '{CONFIG}' does not fit: 1 missing key " \
        '(encoders.convs.2.weight), 2 mis-shaped keys (head.fc.weight: ' \
        '[20, 64] in the checkpoint, [30, 64] in the model' in output
    assert 'Epoch(train)' not in output


def test_a_hook_typo_fails_before_training(tmp_path, fake_cifar10_root):
    output = _run([
        sys.executable,
        osp.join(TOOLS, 'train.py'), CONFIG, '--work-dir',
        str(tmp_path / 'work_dir'), '--cfg-options',
        'default_hooks.checkpoint.intervall=1',
        *_data_options(fake_cifar10_root)
    ], str(tmp_path), fails=True)
    assert 'ValueError: default_hooks.checkpoint.intervall: CheckpointHook ' \
        "takes no argument 'intervall' (did you mean 'interval'?)" in output
    assert 'Epoch(train)' not in output
    assert not osp.exists(str(tmp_path / 'work_dir'))


def _predict(ckpt: str, data_root: str) -> List:
    """Predictions of the checkpoint on the test split, computed here."""
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmpretrain')
    # As mmengine's Runner does: the top-level data_preprocessor of
    # mmpretrain configs goes into the model.
    if cfg.get('data_preprocessor') is not None:
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(cfg.model)
    load_checkpoint(model, ckpt, map_location='cpu')
    model.eval()
    dataset_cfg = dict(cfg.test_dataloader.dataset, data_root=data_root)
    dataset = DATASETS.build(dataset_cfg)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        return model.test_step(batch)


def test_test_prints_metrics_of_the_checkpoint(trained, tmp_path,
                                               fake_cifar10_root):
    ckpt = osp.join(trained['work_dir'], 'epoch_2.pth')
    preds_file = str(tmp_path / 'preds.pkl')
    output = _run([
        sys.executable,
        osp.join(TOOLS, 'test.py'), CONFIG, ckpt, '--work-dir',
        str(tmp_path / 'work_dir'), '--out', preds_file, '--cfg-options',
        *_data_options(fake_cifar10_root)
    ], str(tmp_path))

    accuracy = _metric(output, r'Epoch\(test\)')
    # The checkpoint was loaded: the same accuracy as the validation of
    # epoch 2, and the dumped scores are those of the checkpoint's weights.
    assert f'Load checkpoint from {ckpt}' in output
    # the full table: calibration and the heads of the MixMo ensemble
    for key in ('accuracy/top5', 'calibration/nll', 'calibration/ece',
                'calibration/nll_c', 'diversity/head0_top1',
                'diversity/head1_top1', 'diversity/disagreement'):
        assert f'{key}: ' in output, key
    assert accuracy == _metric(trained['output'], r'Epoch\(val\) \[2\]')
    with open(preds_file, 'rb') as f:
        dumped = pickle.load(f)
    expected = _predict(ckpt, fake_cifar10_root)
    assert len(dumped) == len(expected) == 32
    for got, want in zip(dumped, expected):
        torch.testing.assert_close(got['pred_score'], want.pred_score)
    correct = sum(int(d['pred_label'] == d['gt_label']) for d in dumped)
    assert accuracy == pytest.approx(100 * correct / 32)


def test_test_refuses_a_checkpoint_of_another_config(
        trained, tmp_path, fake_cifar10_root):
    ckpt = osp.join(trained['work_dir'], 'epoch_2.pth')
    args = [
        sys.executable,
        osp.join(TOOLS, 'test.py'), CONFIG, ckpt, '--work-dir',
        str(tmp_path / 'work_dir'), '--cfg-options', 'model.num_members=3',
        *_data_options(fake_cifar10_root)
    ]
    output = _run(args, str(tmp_path), fails=True)
    assert f"CheckpointMismatchError: checkpoint '{ckpt}' into the model " \
        f"of '{CONFIG}' does not fit: 1 missing key (encoders.convs.2." \
        'weight), 2 mis-shaped keys (head.fc.weight: [20, 64] in the ' \
        'checkpoint, [30, 64] in the model; head.fc.bias: [20] in the ' \
        'checkpoint, [30] in the model). Use the config the checkpoint was ' \
        'trained with (and the same --cfg-options); --partial-load loads ' \
        'only the keys that fit' in output
    assert 'Epoch(test)' not in output
    # asked for: the keys that fit, a warning, the metrics
    output = _run(args + ['--partial-load'], str(tmp_path))
    assert 'The model and loaded state dict do not match exactly' in output
    assert 0 <= _metric(output, r'Epoch\(test\)') <= 100


def test_test_with_tta_scores_the_merged_prediction(trained, tmp_path,
                                                    fake_cifar10_root):
    ckpt = osp.join(trained['work_dir'], 'epoch_2.pth')
    preds_file = str(tmp_path / 'preds.pkl')
    output = _run([
        sys.executable,
        osp.join(TOOLS, 'test.py'), CONFIG, ckpt, '--tta', '--work-dir',
        str(tmp_path / 'work_dir'), '--out', preds_file, '--cfg-options',
        *_data_options(fake_cifar10_root)
    ], str(tmp_path))
    with open(preds_file, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 32
    # the metrics read the merged (flip-averaged) prediction of every head
    for sample in dumped:
        torch.testing.assert_close(
            torch.as_tensor(sample['ensemble_logits']).softmax(-1),
            sample['pred_score'])
        assert sample['member_logits'].shape == (2, 10)
    correct = sum(int(d['pred_label'] == d['gt_label']) for d in dumped)
    assert _metric(output, r'Epoch\(test\)') == pytest.approx(
        100 * correct / 32)
    assert 'diversity/head1_top1: ' in output


def test_dist_train_two_cpu_processes(tmp_path, fake_cifar10_root):
    work_dir = str(tmp_path / 'work_dir')
    output = _run([
        'bash',
        osp.join(TOOLS, 'dist_train.sh'), CONFIG, '2', '--work-dir', work_dir,
        '--cfg-options', 'train_cfg.max_epochs=1',
        *_data_options(fake_cifar10_root)
    ],
                  str(tmp_path),
                  PORT=_free_port())
    # torchrun exits 0 only if both ranks exited 0.
    assert 'Distributed training: True' in output
    assert "type='mmpretrain.CPUDistributedDataParallel'" in output
    # Each rank took 32 of the 64 images, 8 of them (x 2 repeats: 16 slots)
    # per iteration: 4 iterations per rank.
    iters = NUM_TRAIN // 2 // IMAGES_PER_STEP
    ckpt = _load(osp.join(work_dir, 'epoch_1.pth'))
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == iters
    assert f'Epoch(train) [1][{iters}/{iters}]' in output
    assert 'loss_head0' in output and 'loss_head1' in output
    assert 0 <= _metric(output, r'Epoch\(val\) \[1\]') <= 100


def test_dist_test_matches_single_process(trained, tmp_path,
                                          fake_cifar10_root):
    ckpt = osp.join(trained['work_dir'], 'epoch_2.pth')
    output = _run([
        'bash',
        osp.join(TOOLS, 'dist_test.sh'), CONFIG, ckpt, '2', '--work-dir',
        str(tmp_path / 'work_dir'), '--cfg-options',
        *_data_options(fake_cifar10_root)
    ],
                  str(tmp_path),
                  PORT=_free_port())
    # The 2 ranks evaluated 16 images each; results gathered over 32.
    assert 'Epoch(test) [1/1]' in output
    assert _metric(output, r'Epoch\(test\)') == \
        _metric(trained['output'], r'Epoch\(val\) \[2\]')


def test_ood_metrics_are_the_same_on_one_and_two_processes(
        trained, tmp_path, fake_cifar10_root):
    """CIFAR-10 (32 images) vs SVHN (19): 51 samples, so the 2 ranks get
    26 each, one padded; the gathered metrics equal one process's."""
    svhn_root = str(tmp_path / 'svhn')
    make_fake_svhn(svhn_root, num_test=19)
    ckpt = osp.join(trained['work_dir'], 'epoch_2.pth')
    options = [
        '--cfg-options',
        f'test_dataloader.dataset.in_dist.data_root={fake_cifar10_root}',
        f'test_dataloader.dataset.ood.data_root={svhn_root}'
    ]
    metrics = {}
    for procs in (1, 2):
        out = str(tmp_path / f'metrics{procs}.pkl')
        args = [OOD_CONFIG, ckpt, '--work-dir', str(tmp_path / f'w{procs}'),
                '--out', out, '--out-item', 'metrics', *options]
        if procs == 1:
            _run([sys.executable, osp.join(TOOLS, 'test.py'), *args],
                 str(tmp_path))
        else:
            _run(['bash', osp.join(TOOLS, 'dist_test.sh'), args[0], args[1],
                  '2', *args[2:]], str(tmp_path), PORT=_free_port())
        with open(out, 'rb') as f:
            metrics[procs] = pickle.load(f)
    assert metrics[1] == metrics[2]
    # with --tta the OOD views are still marked: the same keys
    tta = str(tmp_path / 'metrics_tta.pkl')
    _run([
        sys.executable,
        osp.join(TOOLS, 'test.py'), OOD_CONFIG, ckpt, '--tta', '--work-dir',
        str(tmp_path / 'w_tta'), '--out', tta, '--out-item', 'metrics',
        *options
    ], str(tmp_path))
    with open(tta, 'rb') as f:
        assert sorted(pickle.load(f)) == sorted(metrics[1])
    # the in-distribution table and OOD detection with the heads' scores
    assert metrics[1]['accuracy/top1'] == _metric(
        trained['output'], r'Epoch\(val\) \[2\]')
    for key in ('calibration/tace', 'selective/aurc', 'selective/acc@90',
                'ood/max_prob/auroc', 'ood/mutual_information/fpr95',
                'ood/disagreement/aupr_out'):
        assert key in metrics[1], key
