"""tools/analysis_tools/merge_ensemble_checkpoints.py and the deep-ensemble
evaluation with the real tools/test.py.

Two tiny vanilla members (the member of tests/data/configs/tiny_de2_cifar10.py,
a WRN-10-1 ImageClassifier) with different random weights are saved as
mmengine checkpoints (with the message hub and optimizer state a runner
writes), merged, and evaluated on the fake CIFAR-10 of 32 test images.
"""
import copy
import os
import os.path as osp
import pickle
import re
import subprocess
import sys
from typing import Dict, List

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MessageHub
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, save_checkpoint
from mmengine.runner.checkpoint import get_state_dict, weights_to_cpu
from mmpretrain.datasets.categories import CIFAR10_CATEGORIES
from mmpretrain.registry import DATASETS, MODELS

import mmmixmo  # noqa: F401  (registers the models, patches the loader)
from mmmixmo.models.classifiers import merge_ensemble_checkpoints
from tests.conftest import REPO_ROOT
from tests.utils.models import randomize_weights
from tests.utils.tools import load_tool

TOOLS = osp.join(REPO_ROOT, 'tools')
CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs',
                  'tiny_de2_cifar10.py')
SEEDS = (1, 2)
TIMEOUT = 300


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/merge_ensemble_checkpoints.py')


@pytest.fixture(scope='module')
def cfg():
    return Config.fromfile(CONFIG)


def _member(cfg: Config, seed: int):
    """A member as the ensemble config builds it, with random weights."""
    init_default_scope('mmpretrain')
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(
            copy.deepcopy(cfg.model.member),
            data_preprocessor=cfg.data_preprocessor))
    model.init_weights()
    return randomize_weights(model, linear_std=1.0)


def _runner_like_checkpoint(model, seed: int) -> dict:
    """What mmengine's Runner.save_checkpoint writes for a trained member."""
    hub = MessageHub.get_instance(f'test_merge_member_{seed}')
    hub.update_scalar('train/loss', 2.5 - seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return dict(
        meta=dict(
            epoch=300,
            iter=234600,
            seed=seed,
            experiment_name=f'member_seed{seed}',
            mmengine_version='0.10.7',
            dataset_meta=dict(classes=CIFAR10_CATEGORIES)),
        state_dict=weights_to_cpu(get_state_dict(model)),
        message_hub=hub.state_dict(),
        optimizer=optimizer.state_dict())


@pytest.fixture(scope='module')
def members(cfg, tmp_path_factory):
    """Two member models and their checkpoint files."""
    folder = tmp_path_factory.mktemp('members')
    models, paths = [], []
    for seed in SEEDS:
        model = _member(cfg, seed)
        path = str(folder / f'member_seed{seed}.pth')
        save_checkpoint(_runner_like_checkpoint(model, seed), path)
        models.append(model)
        paths.append(path)
    return dict(models=models, paths=paths)


def _test_batch(cfg: Config, data_root: str) -> dict:
    dataset = DATASETS.build(
        dict(cfg.test_dataloader.dataset, data_root=data_root))
    return pseudo_collate([dataset[i] for i in range(len(dataset))])


def _member_scores(cfg: Config, paths: List[str],
                   data_root: str) -> torch.Tensor:
    """Each member alone, loaded from its checkpoint: (N, 32, K) scores."""
    batch = _test_batch(cfg, data_root)
    scores = []
    for seed, path in zip(SEEDS, paths):
        model = _member(cfg, seed + 100)  # other weights, then loaded
        load_checkpoint(model, path, map_location='cpu', strict=True)
        with torch.no_grad():
            preds = model.test_step(batch)
        scores.append(torch.stack([p.pred_score for p in preds]))
    return torch.stack(scores)


def test_merge_keys_tensors_and_meta(tool, members):
    merged = merge_ensemble_checkpoints(members['paths'])
    assert set(merged) == {'meta', 'state_dict'}
    for i, model in enumerate(members['models']):
        own = model.state_dict()
        assert len(own) > 0
        for key, value in own.items():
            assert torch.equal(merged['state_dict'][f'members.{i}.{key}'],
                               value)
    assert len(merged['state_dict']) == 2 * len(
        members['models'][0].state_dict())
    meta = merged['meta']
    assert meta['ensemble']['num_members'] == 2
    assert meta['ensemble']['members'] == [
        dict(
            checkpoint=path,
            epoch=300,
            iter=234600,
            seed=seed,
            experiment_name=f'member_seed{seed}')
        for path, seed in zip(members['paths'], SEEDS)
    ]
    assert meta['dataset_meta'] == dict(classes=CIFAR10_CATEGORIES)


def test_merged_file_loads_into_the_ensemble(tool, members, cfg, tmp_path):
    out = str(tmp_path / 'sub' / 'merged.pth')
    tool.main([*members['paths'], '--out', out, '--config', CONFIG])
    # Plain meta: loads with torch's safe unpickler, no allowlist needed.
    raw = torch.load(out, map_location='cpu', weights_only=True)
    assert raw['meta']['ensemble']['num_members'] == 2
    assert 'message_hub' not in raw and 'optimizer' not in raw
    model = MODELS.build(
        dict(cfg.model, data_preprocessor=cfg.data_preprocessor))
    ckpt = load_checkpoint(model, out, map_location='cpu', strict=True)
    assert ckpt['meta']['dataset_meta']['classes'] == CIFAR10_CATEGORIES
    for target, member in zip(model.members, members['models']):
        for (name, got), want in zip(target.state_dict().items(),
                                     member.state_dict().values()):
            assert torch.equal(got, want), name


def test_module_prefix_and_bare_state_dicts(tool, members):
    own = members['models'][0].state_dict()
    wrapped = {f'module.{k}': v for k, v in own.items()}
    merged = merge_ensemble_checkpoints([wrapped, dict(own)])
    assert set(merged['state_dict']) == {
        f'members.{i}.{k}'
        for i in range(2) for k in own
    }
    assert merged['meta']['ensemble']['members'] == [
        dict(checkpoint='member0'),
        dict(checkpoint='member1')
    ]
    assert 'dataset_meta' not in merged['meta']


def test_errors(tool, members, tmp_path):
    ckpt = torch.load(
        members['paths'][0], map_location='cpu', weights_only=False)
    other = copy.deepcopy(ckpt)
    other['meta']['dataset_meta'] = dict(classes=('a', 'b'))
    with pytest.raises(ValueError, match='different data sets'):
        merge_ensemble_checkpoints([ckpt, other])
    for other in (dict(meta=ckpt['meta']), [ckpt['state_dict']]):
        with pytest.raises(ValueError, match='member1: no state dict of'):
            merge_ensemble_checkpoints([ckpt, other])
    for argv in ([members['paths'][0], '--out', 'x.pth'],
                 [*members['paths'], '--out', 'x', '--cfg-options', 'a=1']):
        with pytest.raises(SystemExit):
            tool.parse_args(argv)
    # The strict check against a config of 3 members fails before saving.
    out = str(tmp_path / 'merged.pth')
    with pytest.raises(KeyError, match='no weights for ensemble member 2'):
        tool.main([
            *members['paths'], '--out', out, '--config', CONFIG,
            '--cfg-options', 'model.num_members=3'
        ])
    assert not osp.exists(out)


def _run(args: List[str], cwd: str) -> str:
    env = dict(os.environ)
    env.pop('PYTHONPATH', None)
    env['OMP_NUM_THREADS'] = '1'
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT)
    assert proc.returncode == 0, (
        f'{args} exited with {proc.returncode}:\n{proc.stdout[-6000:]}')
    return proc.stdout


def _metrics(output: str) -> Dict[str, float]:
    line = [x for x in output.splitlines() if 'Epoch(test)' in x][-1]
    return {
        key: float(value)
        for key, value in re.findall(r'([\w/]+): (-?[0-9.]+)', line)
    }


def test_tools_test_evaluates_the_merged_ensemble(tool, members, cfg,
                                                  tmp_path, capsys,
                                                  fake_cifar10_root):
    merged = str(tmp_path / 'de2.pth')
    tool.main([*members['paths'], '--out', merged, '--config', CONFIG])
    assert f'Saved {merged}: 2 members' in capsys.readouterr().out

    preds_file = str(tmp_path / 'preds.pkl')
    output = _run([
        sys.executable,
        osp.join(TOOLS, 'test.py'), CONFIG, merged, '--work-dir',
        str(tmp_path / 'work_dir'), '--out', preds_file, '--cfg-options',
        f'test_dataloader.dataset.data_root={fake_cifar10_root}'
    ], str(tmp_path))
    assert f'Load checkpoint from {merged}' in output
    metrics = _metrics(output)
    for key in ('accuracy/top1', 'accuracy/top5', 'calibration/nll',
                'calibration/ece', 'calibration/brier', 'calibration/nll_c',
                'calibration/ece_c', 'diversity/head0_top1',
                'diversity/head1_top1', 'diversity/ensemble_gain',
                'diversity/disagreement'):
        assert key in metrics, key

    # Hand-computed: the mean of the two members' own softmax outputs.
    scores = _member_scores(cfg, members['paths'], fake_cifar10_root)
    expected = scores.mean(0)
    with open(preds_file, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 32
    got = torch.stack([d['pred_score'] for d in dumped])
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)
    labels = torch.cat([d['gt_label'] for d in dumped])
    top1 = 100 * (expected.argmax(1) == labels).float().mean().item()
    assert metrics['accuracy/top1'] == pytest.approx(top1, abs=1e-4)
    for i in range(2):
        acc = 100 * (scores[i].argmax(1) == labels).float().mean().item()
        assert metrics[f'diversity/head{i}_top1'] == pytest.approx(
            acc, abs=1e-4)
    # The members disagree somewhere, so the check above can tell them apart.
    assert (scores[0].argmax(1) != scores[1].argmax(1)).any()
    nll = -expected.double()[torch.arange(32), labels].log().mean().item()
    assert metrics['calibration/nll'] == pytest.approx(nll, abs=1e-4)
