"""Every config under configs/ builds and trains 2 iterations on fake data.

Each config runs through mmengine's Runner (its dataloaders, batch sampler,
hooks, optimizer, schedulers, then a validation pass with its evaluators)
with the backbone shrunk to a tiny width.
"""
import glob
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS

from tests.conftest import REPO_ROOT
from tests.utils.fake_cifar import make_fake_cifar10, make_fake_cifar100
from tests.utils.fake_cifar_c import make_fake_cifar_c
from tests.utils.fake_tiny_imagenet import make_fake_tiny_imagenet

CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p.split(osp.sep))
# Tiny overrides of each backbone type and the width of their pooled feature.
TINY_BACKBONES = {
    'WideResNet': (dict(depth=10, widen_factor=1), 64),
    'PreActResNet': (dict(depth=18, width=1, base_channels=8), 64),
}
BATCH = 8
LOCAL_DATASETS = {'CIFAR10': 'LocalCIFAR10', 'CIFAR100': 'LocalCIFAR100'}


CLASSES = ('cat', 'dog')
IMAGES_PER_CLASS = dict(train=8, val=4)


def make_fake_image_folder(root: str) -> None:
    """``root/{train,val}/{cat,dog}/NNNN.jpg``, random 32x32 JPEGs."""
    rng = np.random.default_rng(0)
    for split, num in IMAGES_PER_CLASS.items():
        for name in CLASSES:
            os.makedirs(osp.join(root, split, name))
            for n in range(num):
                img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                assert cv2.imwrite(
                    osp.join(root, split, name, f'{n:04d}.jpg'), img)


@pytest.fixture(scope='module')
def fake_data(tmp_path_factory) -> dict:
    """Data root of every dataset type used by the configs."""
    root = tmp_path_factory.mktemp('data')
    make_fake_cifar10(str(root / 'cifar10'), num_train=32, num_test=16)
    make_fake_cifar100(str(root / 'cifar100'), num_train=32, num_test=16)
    make_fake_tiny_imagenet(
        str(root / 'tiny'), num_train=6, num_val=3, size=64)
    # 10-class labels are valid for cifar='cifar100' too.
    make_fake_cifar_c(str(root / 'cifar_c'), num_images=4)
    make_fake_image_folder(str(root / 'folder'))
    return dict(
        CIFAR10=str(root / 'cifar10'),
        CIFAR100=str(root / 'cifar100'),
        TinyImageNet=str(root / 'tiny'),
        CIFARC=str(root / 'cifar_c'),
        CustomDataset=str(root / 'folder'))


def shrink(cfg: Config, fake_data: dict, work_dir: str) -> None:
    """Tiny backbone, fake data, 2 training iterations."""
    model = cfg.model
    for member in [model.member] if 'member' in model else [model]:
        overrides, channels = TINY_BACKBONES[member.backbone.type]
        member.backbone.update(overrides)
        member.head.in_channels = channels
    repeats = cfg.train_dataloader.get('batch_sampler', {}).get(
        'num_repeats', 1)
    for split, num in (('train', 2 * BATCH // repeats), ('val', BATCH),
                       ('test', BATCH)):
        loader = cfg[f'{split}_dataloader']
        dataset = loader.dataset
        if dataset.type != 'Digits':  # shipped with scikit-learn
            dataset.data_root = fake_data[dataset.type]
        if dataset.type in LOCAL_DATASETS:
            dataset.update(type=LOCAL_DATASETS[dataset.type], check_md5=False)
        dataset.indices = num
        loader.update(
            batch_size=BATCH, num_workers=0, persistent_workers=False)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO_ROOT) for p in CONFIGS])
def test_config_trains_two_iterations(path, fake_data, tmp_path):
    cfg = Config.fromfile(path)
    shrink(cfg, fake_data, str(tmp_path / osp.basename(path)[:-3]))
    runner = Runner.from_cfg(cfg)
    if cfg.model.type == 'EnsembleClassifier':
        # Evaluation only: the members train with their own configs.
        with pytest.raises(RuntimeError, match='evaluation-only'):
            runner.train()
        assert runner.iter == 0
    else:
        runner.train()
        assert runner.iter == 2
    metrics = runner.val()
    assert 'accuracy/top1' in metrics and 'calibration/nll' in metrics
    multi_head = cfg.model.type in ('MixMoClassifier', 'EnsembleClassifier')
    assert ('diversity/head1_top1' in metrics) == multi_head


@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if 'mixmo' in p or 'mimo' in p],
    ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_config_name_gives_the_mixing_block(path):
    cfg = Config.fromfile(path)
    method = osp.basename(path).split('_')[0]
    if method.startswith(('linear-mixmo', 'mimo')):
        mimo = method == 'mimo'
        assert cfg.model.mixing == dict(
            type='LinearMixing', alpha=None if mimo else 2.0)
        assert cfg.model.head.r == (1.0 if mimo else 3.0)
        assert 'custom_hooks' not in cfg
    else:
        assert cfg.model.mixing.type == 'CutOrLinearMixing'
        assert (cfg.model.mixing.alpha, cfg.model.mixing.prob) == (2.0, 0.5)
        assert cfg.custom_hooks == [
            dict(type='MixingProbHook', decay_fraction=1 / 12)
        ]


@pytest.mark.parametrize('name', [
    'vanilla_wrn10-2_1xb64_imagefolder',
    'cut-mixmo_wrn10-2_1xb64-b2_imagefolder'
])
def test_image_folder_configs_read_train_and_val(name, fake_data):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'imagefolder', f'{name}.py'))
    assert cfg.model.data_preprocessor.to_rgb  # JPEGs are decoded as BGR
    root = fake_data['CustomDataset']
    for split, num in IMAGES_PER_CLASS.items():
        dataset = DATASETS.build(
            dict(cfg[f'{split}_dataloader'].dataset, data_root=root))
        assert dataset.metainfo['classes'] == CLASSES
        samples = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert [(osp.relpath(s['img_path'], root), s['gt_label'])
                for s in samples] == [(f'{split}/{cls}/{n:04d}.jpg', label)
                                      for label, cls in enumerate(CLASSES)
                                      for n in range(num)]


def test_headline_config_is_the_paper_recipe():
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/mixmo/cut-mixmo_wrn28-10_cifar100.py'))
    assert cfg.model.type == 'MixMoClassifier'
    assert cfg.model.mixing == dict(
        type='CutOrLinearMixing', alpha=2.0, prob=0.5)
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
