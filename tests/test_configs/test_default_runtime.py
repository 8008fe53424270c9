"""Our configs inherit mmpretrain's shipped configs through `mmpretrain::`."""
import os.path as osp

from mmengine.config import Config


def test_default_runtime_inherits_mmpretrain(repo_root):
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs', '_base_', 'default_runtime.py'))
    # Keys of mmpretrain::_base_/default_runtime.py (mmengine tags the dicts
    # of `mmpretrain::` files with their scope) ...
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


def test_tiny_test_config_merges_mmpretrain_bases(repo_root):
    # tiny Cut-MixMo <- configs/mixmo/... <- our _base_ files <-
    # mmpretrain::_base_/datasets/cifar10_bs16.py and default_runtime.py
    cfg = Config.fromfile(
        osp.join(repo_root, 'tests', 'data', 'configs', 'tiny_cifar10.py'))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.custom_imports.imports == ['mmmixmo']
    # From mmpretrain::_base_/datasets/cifar10_bs16.py, merged with ours.
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    assert cfg.train_dataloader.dataset.pipeline[0].type == 'RandomCrop'
    assert cfg.train_dataloader.dataset.pipeline[0].padding == 4
    assert cfg.train_dataloader.dataset.type == 'LocalCIFAR10'
    assert cfg.train_dataloader.dataset.split == 'train'
    assert cfg.val_dataloader.dataset.split == 'test'
    # From mmpretrain::_base_/default_runtime.py.
    assert cfg.default_hooks.timer.type == 'IterTimerHook'
    assert cfg.default_hooks.sampler_seed.type == 'DistSamplerSeedHook'
    assert cfg.visualizer.type == 'UniversalVisualizer'
    # Ours, down the chain.
    assert cfg.model.type == 'MixMoClassifier'
    assert cfg.train_dataloader.batch_sampler == dict(
        type='BatchRepeatSampler', num_repeats=2)
    assert [m.type for m in cfg.val_evaluator] == [
        'Accuracy', 'CalibrationMetric', 'EnsembleDiversityMetric'
    ]
    assert cfg.optim_wrapper.optimizer.nesterov is True
    assert cfg.custom_hooks[0].type == 'MixingProbHook'
    assert cfg.train_cfg == dict(by_epoch=True, max_epochs=2, val_interval=1)
    assert cfg.default_hooks.logger.interval == 1
