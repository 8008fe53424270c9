"""Our configs inherit mmpretrain's shipped configs through `mmpretrain::`."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import utils as runner_utils

from tests.conftest import REPO_ROOT

TINY_CIFAR10 = osp.join(REPO_ROOT, 'tests', 'data', 'configs',
                        'tiny_cifar10.py')


def test_default_runtime_inherits_mmpretrain():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', '_base_', 'default_runtime.py'))
    # mmpretrain::_base_/default_runtime.py (tagged with its scope) ...
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.default_hooks.checkpoint == dict(
        type='CheckpointHook', interval=1, _scope_='mmpretrain')
    assert cfg.default_hooks.logger.interval == 100
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'
    assert cfg.visualizer.type == 'UniversalVisualizer'
    assert cfg.resume is False and cfg.load_from is None
    # ... plus ours.
    assert cfg.custom_imports == dict(
        imports=['mmmixmo'], allow_failed_imports=False)
    assert cfg.default_hooks.channel_order == dict(type='ChannelOrderHook')
    assert cfg.default_hooks.exact_resume == dict(type='ExactResumeHook')
    assert cfg.randomness == dict(
        seed=None, deterministic=False, diff_rank_seed=True)


def test_every_rank_draws_its_own_mixing_randomness(monkeypatch):
    """The runner's seeding on ranks 0 and 1 from one broadcast seed."""
    cfg = Config.fromfile(TINY_CIFAR10)
    assert cfg.randomness.seed == 0 and cfg.randomness.diff_rank_seed
    draws = []
    for rank in (0, 1, 0):
        monkeypatch.setattr(runner_utils, 'get_rank', lambda: rank)
        runner_utils.set_random_seed(**cfg.randomness)
        draws.append(torch.rand(4))
    assert not torch.equal(draws[0], draws[1])
    assert torch.equal(draws[0], draws[2])  # reproducible per rank


def test_tiny_test_config_merges_mmpretrain_bases():
    # tiny_cifar10 <- configs/mixmo/... <- configs/_base_/... <-
    # mmpretrain::_base_/datasets/cifar10_bs16.py and default_runtime.py
    cfg = Config.fromfile(TINY_CIFAR10)
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports.imports == ['mmmixmo']
    # mmpretrain's CIFAR-10 dataset config, merged with ours.
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    assert cfg.val_dataloader.dataset.pipeline == [dict(type='PackInputs')]
    assert cfg.train_dataloader.dataset.type == 'LocalCIFAR10'
    assert cfg.train_dataloader.dataset.split == 'train'
    assert cfg.val_dataloader.dataset.split == 'test'
    # mmpretrain's runtime.
    assert cfg.default_hooks.timer.type == 'IterTimerHook'
    assert cfg.default_hooks.sampler_seed.type == 'DistSamplerSeedHook'
    # Ours, down the chain.
    assert cfg.model.type == 'MixMoClassifier'
    assert cfg.model.mixing.type == 'CutOrLinearMixing'
    # 16 slots per step: 8 images, each in b = 2 slots of both members,
    # every view mmpretrain's CIFAR augmentation (configs/_base_/datasets/)
    assert cfg.train_dataloader.batch_size == 8
    assert cfg.train_dataloader.dataset.pipeline == [
        dict(
            type='MemberViews',
            num_repeats=2,
            num_members=2,
            transforms=[
                dict(type='RandomCrop', crop_size=32, padding=4),
                dict(type='RandomFlip', prob=0.5, direction='horizontal')
            ]),
        dict(type='PackInputs')
    ]
    assert 'batch_sampler' not in cfg.train_dataloader
    assert [m.type for m in cfg.val_evaluator] == [
        'Accuracy', 'CalibrationMetric', 'EnsembleDiversityMetric',
        'SelectivePredictionMetric'
    ]
    assert cfg.optim_wrapper.optimizer.nesterov is True
    assert cfg.custom_hooks == [
        dict(type='MixingProbHook', decay_fraction=1 / 12)
    ]
    assert cfg.train_cfg == dict(by_epoch=True, max_epochs=2, val_interval=1)
    assert cfg.default_hooks.logger.interval == 1


def test_quickstart_resumes_from_every_epoch():
    """A default hook (a dict merge), not a custom one: configs that set
    ``custom_hooks`` keep it; the quickstart saves every epoch."""
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'quickstart',
                 'cut-mixmo_wrn16-1_1xb64-b2_digits.py'))
    assert cfg.custom_hooks == [
        dict(type='MixingProbHook', decay_fraction=1 / 12)
    ]
    assert cfg.default_hooks.exact_resume == dict(type='ExactResumeHook')
    assert cfg.default_hooks.channel_order == dict(type='ChannelOrderHook')
    assert cfg.default_hooks.checkpoint == dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        save_last=True,
        _scope_='mmpretrain')
