"""tools/test.py on CIFAR-10-C: the real script, corruption config and metric.

A randomly initialised tiny Cut-MixMo (tests/data/configs/tiny_cifar10-c.py,
the real configs/corruptions/ CIFAR-10-C config with a WRN-10-1) is saved as a
checkpoint and evaluated by ``tools/test.py`` in a subprocess on a fake
CIFAR-10-C with the 15 benchmark corruptions x 5 severities x 4 images. The
metrics it dumps are checked against group means computed here from the same
checkpoint's predictions.
"""
import os
import os.path as osp
import subprocess
import sys
from collections import defaultdict

import mmengine
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

import mmmixmo  # noqa: F401
from mmmixmo.datasets.cifar_c import BENCHMARK_CORRUPTIONS
from tests.conftest import REPO_ROOT
from tests.utils.fake_cifar_c import make_fake_cifar_c

CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_cifar10-c.py')
N = 4  # images per severity


def test_tools_test_prints_corruption_means(tmp_path):
    data_root = make_fake_cifar_c(str(tmp_path / 'CIFAR-10-C'), num_images=N)
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmpretrain')
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.eval()
    ckpt = str(tmp_path / 'random_init.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)

    # The checkpoint's predictions, computed here. A random network predicts
    # nearly one class: relabel the rows so that the gaussian_noise
    # predictions are right on 3 rows out of 4 (labels are shared by the
    # corruptions), which makes the group accuracies differ.
    dataset = DATASETS.build(
        dict(cfg.test_dataloader.dataset, data_root=data_root))
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    with torch.no_grad():
        preds = model.test_step(batch)
    labels = np.array([int(p.pred_label) for p in preds[:5 * N]])
    labels[::4] = (labels[::4] + 1) % 10
    np.save(osp.join(data_root, 'labels.npy'), labels.astype(np.uint8))

    metrics_file = str(tmp_path / 'metrics.json')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)
    args = [
        sys.executable,
        osp.join(REPO_ROOT, 'tools', 'test.py'), CONFIG, ckpt, '--work-dir',
        str(tmp_path / 'work_dir'), '--out', metrics_file, '--out-item',
        'metrics', '--cfg-options',
        f'test_dataloader.dataset.data_root={data_root}'
    ]
    proc = subprocess.run(
        args,
        cwd=str(tmp_path),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:]
    output = proc.stdout
    assert f'Load checkpoint from {ckpt}' in output
    assert f'{15 * 5 * N} samples in 75 groups (15 corruptions' in output
    for key in ('accuracy/top1', 'accuracy/top5', 'calibration/nll',
                'calibration/ece', 'calibration/nll_c', 'calibration/brier',
                'diversity/head0_top1', 'diversity/head1_top1',
                'diversity/disagreement', 'fog/accuracy/top1',
                'jpeg_compression/calibration/nll'):
        assert f'corruption/{key}: ' in output, key
    metrics = mmengine.load(metrics_file)
    assert all(key.startswith('corruption/') for key in metrics)
    assert {
        key.split('/')[1]
        for key in metrics
    } == {'accuracy', 'calibration', 'diversity', 'selective'
          } | set(BENCHMARK_CORRUPTIONS)

    right = defaultdict(list)
    for pred in preds:
        label = labels[pred.sample_idx % (5 * N)]
        right[(pred.corruption,
               pred.severity)].append(int(pred.pred_label.item() == label))
    assert len(right) == 75 and all(len(r) == N for r in right.values())
    group_acc = {key: 100 * sum(r) / N for key, r in right.items()}
    assert [group_acc[('gaussian_noise', s)]
            for s in range(1, 6)] == [75.0, 75.0, 75.0, 75.0, 75.0]
    assert metrics['corruption/gaussian_noise/accuracy/top1'] == 75.0
    assert metrics['corruption/accuracy/top1'] == pytest.approx(
        sum(group_acc.values()) / 75, abs=1e-4)
    assert metrics['corruption/fog/accuracy/top1'] == pytest.approx(
        sum(group_acc[('fog', s)] for s in range(1, 6)) / 5, abs=1e-4)
    nll = torch.stack([
        -torch.log(p.pred_score[labels[p.sample_idx % (5 * N)]]) for p in preds
    ]).mean().item()
    # equal groups: the mean of per-group NLLs is the pooled NLL
    assert metrics['corruption/calibration/nll'] == pytest.approx(
        nll, rel=1e-4)
