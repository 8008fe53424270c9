"""Every config under configs/ loads, builds and trains 2 iterations.

A new config cannot land untested: this walks the folder. Each config runs
through mmengine's Runner (its real dataloaders, batch sampler, hooks,
optimizer and schedulers, then a validation pass with its evaluators) on fake
data, with the model shrunk to a tiny width.
"""
import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmmixmo  # noqa: F401
from tests.utils import make_fake_cifar10, make_fake_cifar100
from tests.utils.fake_cifar_c import make_fake_cifar_c
from tests.utils.fake_tiny_imagenet import make_fake_tiny_imagenet

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    path for path in glob.glob(
        osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in path.split(osp.sep))

# Tiny versions of each backbone type and the width of their pooled feature.
TINY_BACKBONES = {
    'WideResNet': (dict(depth=10, widen_factor=1), 64),
    'PreActResNet': (dict(depth=18, width=1, base_channels=8), 64),
}
BATCH = 8
LOCAL_DATASETS = {'CIFAR10': 'LocalCIFAR10', 'CIFAR100': 'LocalCIFAR100'}
# Real data sets that ship inside a package: used as they are.
SHIPPED_DATASETS = ('Digits', )


@pytest.fixture(scope='module')
def fake_data(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    make_fake_cifar10(str(root / 'cifar10'), num_train=32, num_test=16)
    make_fake_cifar100(str(root / 'cifar100'), num_train=32, num_test=16)
    make_fake_tiny_imagenet(
        str(root / 'tiny'), num_train=6, num_val=3, size=64)
    # 15 benchmark corruptions x 5 severities x 4 images; 10-class labels
    # are valid for cifar='cifar100' too.
    make_fake_cifar_c(str(root / 'cifar_c'), num_images=4)
    return dict(
        CIFAR10=str(root / 'cifar10'),
        CIFAR100=str(root / 'cifar100'),
        TinyImageNet=str(root / 'tiny'),
        CIFARC=str(root / 'cifar_c'))


def classifier_cfgs(model: dict) -> list:
    """The single-network configs of a model: the members of an ensemble."""
    if model.type == 'EnsembleClassifier':
        return [model.member] if model.get('member') else list(model.members)
    return [model]


def shrink(cfg: Config, fake_data: dict, work_dir: str) -> int:
    """Tiny model, fake data, 2 training iterations; returns b."""
    for model in classifier_cfgs(cfg.model):
        backbone = model.backbone
        assert backbone.type in TINY_BACKBONES, (
            f'add a tiny override for backbone type {backbone.type} to this '
            'test')
        overrides, channels = TINY_BACKBONES[backbone.type]
        backbone.update(overrides)
        model.head.in_channels = channels

    sampler = cfg.train_dataloader.get('batch_sampler') or {}
    repeats = sampler.get('num_repeats', 1)
    for split, num in (('train_dataloader', 2 * BATCH // repeats),
                       ('val_dataloader', BATCH), ('test_dataloader',
                                                   BATCH)):
        loader = cfg[split]
        dataset = loader.dataset
        if dataset.type not in SHIPPED_DATASETS:
            assert dataset.type in fake_data, (
                f'add fake data for dataset type {dataset.type} to this test')
            dataset.data_root = fake_data[dataset.type]
        if dataset.type in LOCAL_DATASETS:
            dataset.type = LOCAL_DATASETS[dataset.type]
            dataset.check_md5 = False
        dataset.indices = num
        loader.update(batch_size=BATCH, num_workers=0,
                      persistent_workers=False)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)
    return repeats


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO) for p in CONFIGS])
def test_config_trains_two_iterations(path, fake_data, tmp_path):
    cfg = Config.fromfile(path)
    shrink(cfg, fake_data, str(tmp_path / osp.basename(path)[:-3]))
    runner = Runner.from_cfg(cfg)
    if cfg.model.type == 'EnsembleClassifier':
        # Evaluation-only (configs/ensembles): the members train with their
        # own configs, walked separately; training the ensemble must fail
        # clearly, and the validation pass scores the (untrained) ensemble.
        with pytest.raises(RuntimeError, match='evaluation-only'):
            runner.train()
        assert runner.iter == 0
    else:
        runner.train()
        assert runner.iter == 2
    metrics = runner.val()
    assert 'accuracy/top1' in metrics
    assert 'calibration/nll' in metrics
    if cfg.model.type in ('MixMoClassifier', 'EnsembleClassifier'):
        assert 'diversity/head1_top1' in metrics
    else:
        assert not any(key.startswith('diversity/') for key in metrics)


def test_headline_config_is_the_paper_recipe():
    cfg = Config.fromfile(
        osp.join(REPO, 'configs/mixmo/cut-mixmo_wrn28-10_cifar100.py'))
    assert cfg.model.type == 'MixMoClassifier'
    assert cfg.model.mixing.type == 'CutOrLinearMixing'
    assert cfg.model.backbone == dict(
        type='WideResNet', depth=28, widen_factor=10)
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.train_dataloader.batch_sampler.num_repeats == 4
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.05 / 4)
    assert cfg.optim_wrapper.optimizer.weight_decay == pytest.approx(6e-4)
    assert cfg.optim_wrapper.optimizer.nesterov
    assert cfg.param_scheduler[1].milestones == [100, 200, 225]
    assert cfg.train_cfg.max_epochs == 300
    assert cfg.auto_scale_lr.base_batch_size == 64
