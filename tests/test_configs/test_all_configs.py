"""Every config under configs/ builds and trains 2 iterations on fake data.

Each config runs through mmengine's Runner (its dataloaders and pipelines,
hooks, optimizer, schedulers, then a validation pass with its evaluators)
with the backbone shrunk to a tiny width. A checkpoint the config would
download (a ``Pretrained`` backbone ``init_cfg`` at an http(s) address) or
read (``load_from``) is replaced by a random checkpoint of the tiny single
network, saved locally, and training must start from it.
Every train dataloader is checked against the config's name and its dataset
base.
"""
import copy
import functools
import glob
import os
import os.path as osp
import re
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS
from torch import Tensor

from mmmixmo.models.utils import fold_members, unfold_members
from tests.conftest import REPO_ROOT
from tests.utils.fake_cifar import make_fake_cifar10, make_fake_cifar100
from tests.utils.fake_cifar_c import make_fake_cifar_c
from tests.utils.fake_imagenet import make_fake_imagenet
from tests.utils.fake_svhn import make_fake_svhn
from tests.utils.fake_tiny_imagenet import make_fake_tiny_imagenet
from tests.utils.models import randomize_weights

CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(REPO_ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p.split(osp.sep))
# Tiny overrides of each backbone type and the width of their pooled feature.
TINY_BACKBONES = {
    'WideResNet': (dict(depth=10, widen_factor=1), 64),
    'PreActResNet': (dict(depth=18, width=1, base_channels=8), 64),
    'ResNet': (dict(depth=18, stem_channels=8, base_channels=8), 64),
    # 2 stages of 1 block, 32 then 64 channels (4x4 patches, 7x7 windows)
    'SwinTransformer': (dict(
        arch=dict(embed_dims=32, depths=[1, 1], num_heads=[1, 2]),
        out_indices=(1, )), 64),
}
BATCH = 8
LOCAL_DATASETS = {'CIFAR10': 'LocalCIFAR10', 'CIFAR100': 'LocalCIFAR100'}


# The single network's train dataloader of each dataset base, as it was
# before MemberViews: the non-MixMo configs must still train on exactly it.
CIFAR_AUGMENTS = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
LOAD = dict(type='LoadImageFromFile')
PACK = dict(type='PackInputs')
VANILLA_TRAIN = {  # dataset type: (batch_size, pipeline)
    'CIFAR10': (64, [*CIFAR_AUGMENTS, PACK]),
    'CIFAR100': (64, [*CIFAR_AUGMENTS, PACK]),
    'Digits': (64, [dict(type='RandomCrop', crop_size=32, padding=4), PACK]),
    'CustomDataset': (64, [LOAD, *CIFAR_AUGMENTS, PACK]),
    'TinyImageNet': (100, [
        LOAD,
        dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        dict(type='RandomCrop', crop_size=64, padding=4), PACK
    ]),
    'ImageNet': (64, [
        LOAD,
        dict(type='RandomResizedCrop', scale=224),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'), PACK
    ]),
}
# GPUs of the recipe of each dataset (in the config names); 1 if absent.
RECIPE_GPUS = {'ImageNet': 8}
# The single network's lr of each dataset (checked on the non-MixMo
# configs); MixMo divides it by b.
SINGLE_NETWORK_LR = {
    'CIFAR10': 0.05,
    'CIFAR100': 0.05,
    'Digits': 0.1,
    'CustomDataset': 0.05,
    'TinyImageNet': 0.2,
    'ImageNet': 0.2,
}
# configs/quickstart/README.md: keeps lr 0.1 at b = 2 (12 epochs only).
LR_NOT_DIVIDED_BY_B = {'quickstart/cut-mixmo_wrn16-1_1xb64-b2_digits.py'}
# configs/imagefolder/README.md: 2 epochs from the trained single network.
FROM_SINGLE_NETWORK_LR = 0.01
# configs/finetune (README.md there): from ImageNet-1k checkpoints, at
# 224 x 224 on their own dataset bases (configs/finetune/_base_/datasets),
# with the single network's fine-tuning lr of each optimizer; MixMo divides
# it by b.
FINETUNE = 'finetune'
FINETUNE_TRAIN = {  # dataset type: (batch_size, pipeline)
    'CustomDataset': (64, [
        LOAD,
        dict(type='RandomResizedCrop', scale=224),
        dict(type='RandomFlip', prob=0.5, direction='horizontal'), PACK
    ]),
    'CIFAR100': (64, [*CIFAR_AUGMENTS,
                      dict(type='Resize', scale=224), PACK]),
}
FINETUNE_LR = {'SGD': 0.005, 'AdamW': 1.25e-5}
# Configs named without their batch, and the recipe they are named after.
HEADLINE = 'mixmo/cut-mixmo_wrn28-10_1xb64-b4_cifar100.py'
ALIASES = {
    'mixmo/cut-mixmo_wrn28-10_cifar100.py': HEADLINE,
    'corruptions/cut-mixmo_wrn28-10_cifar100-c.py': HEADLINE,
}


@functools.lru_cache(maxsize=None)
def _parsed(path: str) -> Config:
    return Config.fromfile(path)


def load(path: str) -> Config:
    """``Config.fromfile(path)``, parsed once per session (a copy)."""
    return copy.deepcopy(_parsed(osp.abspath(path)))


def relpath(path: str) -> str:
    return osp.relpath(path, osp.join(REPO_ROOT, 'configs'))


def plain(obj: Any) -> Any:
    """A config value as plain dicts/lists, without mmengine's ``_scope_``
    tags (added to what is inherited from ``mmpretrain::`` files)."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return type(obj)(plain(v) for v in obj)
    return obj


def member_views(pipeline: List[dict]) -> List[dict]:
    return [t for t in pipeline if t['type'] == 'MemberViews']


def model_base(path: str) -> str:
    """The first ``_base_`` of a config file (an OOD config's model)."""
    with open(path) as f:
        first = re.search(r"_base_ = \[\n    '(.+?)'", f.read()).group(1)
    return osp.normpath(osp.join(osp.dirname(path), first))


def recipe_name(path: str) -> str:
    """The config the one at ``path`` is named after: itself, the recipe
    of an alias, or the model of an OOD config."""
    if '_vs-' in osp.basename(path):
        return relpath(model_base(path))
    return ALIASES.get(relpath(path), relpath(path))


def batch_in_name(path: str) -> Tuple[int, int, int]:
    """``(GPUs, per-GPU slots, b)`` of ``..._{G}xb{S}[-b{b}]_...``
    (b = 1 without ``-b``)."""
    match = re.search(r'_(\d+)xb(\d+)(?:-b(\d+))?_', osp.basename(path))
    assert match, f'{relpath(path)}: no {{GPUs}}xb{{batch}} in the name'
    gpus, per_gpu, repeats = match.groups()
    return int(gpus), int(per_gpu), int(repeats or 1)


def is_finetune(path: str) -> bool:
    return relpath(path).split(osp.sep)[0] == FINETUNE


@functools.lru_cache()
def dataset_bases(finetune: bool = False) -> dict:
    """``configs/_base_/datasets/*.py`` (``configs/finetune/_base_/...``)
    by the type of their train set."""
    folder = osp.join(FINETUNE, '_base_') if finetune else '_base_'
    bases = {}
    for path in glob.glob(
            osp.join(REPO_ROOT, 'configs', folder, 'datasets', '*.py')):
        cfg = load(path)
        bases[cfg.train_dataloader.dataset.type] = cfg
    assert sorted(bases) == sorted(
        FINETUNE_TRAIN if finetune else VANILLA_TRAIN)
    return bases


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
    make_fake_imagenet(str(root / 'imagenet'), num_train=16, num_val=8)
    make_fake_svhn(str(root / 'svhn'), num_test=12)
    return dict(
        CIFAR10=str(root / 'cifar10'),
        CIFAR100=str(root / 'cifar100'),
        TinyImageNet=str(root / 'tiny'),
        CIFARC=str(root / 'cifar_c'),
        CustomDataset=str(root / 'folder'),
        ImageNet=str(root / 'imagenet'),
        SVHN=str(root / 'svhn'))


def cpu_optim_wrapper(optim_wrapper: dict) -> dict:
    """The config's optimizer wrapper, an fp32 ``OptimWrapper`` in place of
    an ``AmpOptimWrapper`` (mmengine's asserts a GPU)."""
    if optim_wrapper.get('type') != 'AmpOptimWrapper':
        return optim_wrapper
    return dict({k: v for k, v in optim_wrapper.items()
                 if k not in ('dtype', 'loss_scale')}, type='OptimWrapper')


def shrink_dataset(dataset: dict, num: int, fake_data: dict) -> None:
    """The fake data of ``dataset``, its first ``num`` samples (of each
    part of an ``OODDataset``)."""
    if dataset.type == 'OODDataset':
        for part in ('in_dist', 'ood'):
            shrink_dataset(dataset[part], num, fake_data)
        return
    if dataset.type != 'Digits':  # shipped with scikit-learn
        dataset.data_root = fake_data[dataset.type]
    elif dataset.get('test_size', 0) > 300:  # the OOD set: resize fewer
        dataset.test_size = 300
    if dataset.type in LOCAL_DATASETS:
        dataset.update(type=LOCAL_DATASETS[dataset.type], check_md5=False)
    dataset.indices = num


def single_network(model: dict, num_classes: int) -> torch.nn.Module:
    """The single network of a model config, random: an ``ImageClassifier``
    with its backbone and neck and a linear head, every parameter drawn
    away from its initialisation, BN statistics random."""
    init_default_scope('mmpretrain')
    backbone = {k: v for k, v in model.backbone.items() if k != 'init_cfg'}
    net = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=backbone,
            neck=model.get('neck', dict(type='GlobalAveragePooling')),
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=model.head.in_channels)))
    net.init_weights()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in net.parameters():
            param.add_(0.05 * torch.randn(param.shape, generator=generator))
    return randomize_weights(net)


def local_checkpoints(cfg: Config, work_dir: str) -> Dict[str, dict]:
    """Replace the checkpoints the config loads by tiny local ones.

    A ``Pretrained`` backbone ``init_cfg`` (in ``configs/finetune`` a model
    zoo's ImageNet network at an http(s) address, which would be downloaded)
    becomes a random tiny single network with 1000 classes; a ``load_from``
    (a trained single network) one with the config's classes. Both are
    saved in ``work_dir``.

    Returns:
        dict: The weights of each replaced checkpoint, by ``'init_cfg'`` or
        ``'load_from'``.
    """
    model = cfg.model.member if 'member' in cfg.model else cfg.model
    init_cfg = model.backbone.get('init_cfg')
    load_from = cfg.get('load_from')
    needed = {}
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        needed['init_cfg'] = 1000
    if load_from:
        needed['load_from'] = model.head.num_classes
    weights = {}
    for key, num_classes in needed.items():
        path = osp.join(work_dir, f'single_network_{key}.pth')
        os.makedirs(work_dir, exist_ok=True)
        state_dict = single_network(model, num_classes).state_dict()
        torch.save(dict(state_dict=state_dict, meta=dict()), path)
        weights[key] = {k: v.clone() for k, v in state_dict.items()}
        if key == 'init_cfg':
            init_cfg.checkpoint = path
        else:
            cfg.load_from = path
    return weights


class StartWeights(Hook):
    """Keeps the model and its weights as training starts (after the
    initialisation and ``load_from``)."""

    def before_train(self, runner) -> None:
        model = runner.model
        self.model = model.module if is_model_wrapper(model) else model
        self.weights = {
            k: v.detach().clone()
            for k, v in self.model.state_dict().items()
        }


def assert_starts_from(start: StartWeights, weights: Dict[str, Tensor],
                       whole: bool) -> None:
    """The model started from a single network's weights: its backbone (and
    with ``whole`` its head) as they are, except that a MixMo model's member
    encoders are that network's first convolution / M (they fold back to
    it exactly) and its M heads copies of that network's head."""
    model, state = start.model, start.weights
    layer = getattr(model, 'encoder_layer', None)
    num_members = len(model.encoders.convs) if layer else 1
    checked = set()
    for key, value in weights.items():
        if not whole and not key.startswith('backbone.'):
            continue
        if layer and key.startswith(f'backbone.{layer}.'):
            name = key[len(f'backbone.{layer}.'):]
            members = [
                state[f'encoders.convs.{i}.{name}']
                for i in range(num_members)
            ]
            assert torch.equal(fold_members(members), value), key
            for member, expected in zip(members,
                                        unfold_members(value, num_members)):
                assert torch.equal(member, expected), key
            torch.testing.assert_close(members[0], value / num_members)
            checked.update(f'encoders.convs.{i}.{name}'
                           for i in range(num_members))
        elif layer and key.startswith('head.fc.'):
            assert torch.equal(
                state[key],
                value.repeat(num_members, *[1] * (value.dim() - 1))), key
            checked.add(key)
        else:
            assert torch.equal(state[key], value), key
            checked.add(key)
    # every weight of the model's backbone (and head) came from the file
    prefixes = ('backbone.', 'encoders.') + (('head.', ) if whole else ())
    assert {k for k in state if k.startswith(prefixes)} == checked


def shrink(cfg: Config, fake_data: dict,
           work_dir: str) -> Dict[str, Dict[str, Tensor]]:
    """Tiny backbone, fake data, 2 training iterations, no AMP, local
    checkpoints (:func:`local_checkpoints`, whose weights it returns)."""
    model = cfg.model
    for member in [model.member] if 'member' in model else [model]:
        overrides, channels = TINY_BACKBONES[member.backbone.type]
        member.backbone.update(overrides)
        member.head.in_channels = channels
    # BATCH slots per step: BATCH // b images, each in b slots (MemberViews)
    views = member_views(cfg.train_dataloader.dataset.pipeline)
    repeats = views[0].num_repeats if views else 1
    for split, num in (('train', 2 * BATCH // repeats), ('val', BATCH),
                       ('test', BATCH)):
        loader = cfg[f'{split}_dataloader']
        shrink_dataset(loader.dataset, num, fake_data)
        loader.update(
            batch_size=num // 2 if split == 'train' else BATCH,
            num_workers=0,
            persistent_workers=False)
    cfg.optim_wrapper = cpu_optim_wrapper(cfg.optim_wrapper)
    cfg.train_cfg.update(max_epochs=1, val_interval=1)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = work_dir
    cfg.experiment_name = osp.basename(work_dir)
    return local_checkpoints(cfg, work_dir)


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, REPO_ROOT) for p in CONFIGS])
def test_config_trains_two_iterations(path, fake_data, tmp_path):
    cfg = load(path)
    checkpoints = shrink(cfg, fake_data,
                         str(tmp_path / osp.basename(path)[:-3]))
    runner = Runner.from_cfg(cfg)
    start = StartWeights()
    runner.register_hook(start)
    if cfg.model.type == 'EnsembleClassifier':
        # Evaluation only: the members train with their own configs.
        with pytest.raises(RuntimeError, match='evaluation-only'):
            runner.train()
        assert runner.iter == 0
    else:
        runner.train()
        assert runner.iter == 2
    # nothing downloaded: training started from the local checkpoints
    if 'load_from' in checkpoints:
        assert_starts_from(start, checkpoints['load_from'], whole=True)
    elif 'init_cfg' in checkpoints:
        assert_starts_from(start, checkpoints['init_cfg'], whole=False)
    metrics = runner.val()
    assert 'accuracy/top1' in metrics and 'calibration/nll' in metrics
    multi_head = cfg.model.type in ('MixMoClassifier', 'EnsembleClassifier')
    assert ('diversity/head1_top1' in metrics) == multi_head
    assert 'selective/aurc' in metrics and 'calibration/tace' in metrics
    if cfg.test_dataloader.dataset.type == 'OODDataset':
        # BATCH in-distribution and BATCH OOD images: the table of both
        metrics = runner.test()
        assert 'accuracy/top1' in metrics and 'selective/aurc' in metrics
        # every OOD config's model gives logits: energy and max_logit
        scores = ['max_prob', 'entropy', 'energy', 'max_logit'] + (
            ['mutual_information', 'disagreement'] if multi_head else [])
        assert sorted(k for k in metrics if k.startswith('ood/')) == sorted(
            f'ood/{score}/{key}' for score in scores
            for key in ('auroc', 'aupr_in', 'aupr_out', 'fpr95'))


@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if 'mixmo' in p or 'mimo' in p],
    ids=lambda p: osp.relpath(p, REPO_ROOT))
def test_config_name_gives_the_mixing_block(path):
    cfg = load(path)
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
    cfg = load(
        osp.join(REPO_ROOT, 'configs', 'imagefolder', f'{name}.py'))
    assert cfg.model.data_preprocessor.to_rgb  # JPEGs are decoded as BGR
    root = fake_data['CustomDataset']
    init_default_scope('mmpretrain')  # as the Runner does
    for split, num in IMAGES_PER_CLASS.items():
        dataset = DATASETS.build(
            dict(cfg[f'{split}_dataloader'].dataset, data_root=root))
        assert dataset.metainfo['classes'] == CLASSES
        samples = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert [(osp.relpath(s['img_path'], root), s['gt_label'])
                for s in samples] == [(f'{split}/{cls}/{n:04d}.jpg', label)
                                      for label, cls in enumerate(CLASSES)
                                      for n in range(num)]
        # the JPEG decoded, then (MixMo training) M = 2 x b = 2 views of it
        inputs = dataset[0]['inputs']
        if split == 'train' and cfg.model.type == 'MixMoClassifier':
            assert [len(member) for member in inputs] == [2, 2]
            views = [view for member in inputs for view in member]
        else:
            views = [inputs]
        for view in views:
            assert view.shape == (3, 32, 32) and view.dtype == torch.uint8


def test_headline_config_is_the_paper_recipe():
    cfg = load(
        osp.join(REPO_ROOT, 'configs/mixmo/cut-mixmo_wrn28-10_cifar100.py'))
    assert cfg.model.type == 'MixMoClassifier'
    assert cfg.model.mixing == dict(
        type='CutOrLinearMixing', alpha=2.0, prob=0.5)
    assert cfg.model.backbone == dict(
        type='WideResNet', depth=28, widen_factor=10)
    # 64 slots per step: 16 images, each in b = 4 slots of both members,
    # every (member, slot) input its own crop and flip of the image
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.train_dataloader.dataset.pipeline == [
        dict(
            type='MemberViews',
            num_repeats=4,
            num_members=2,
            transforms=CIFAR_AUGMENTS), PACK
    ]
    assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(0.05 / 4)
    assert cfg.optim_wrapper.optimizer.weight_decay == pytest.approx(6e-4)
    assert cfg.optim_wrapper.optimizer.nesterov
    assert cfg.param_scheduler[1].milestones == [100, 200, 225]
    assert cfg.train_cfg.max_epochs == 300


@pytest.mark.parametrize('path', CONFIGS, ids=relpath)
def test_train_dataloader_of_every_config(path):
    """MixMo configs (those of a MixMoClassifier) train on MemberViews of
    their dataset base's augmentations, with the batch of their name; the
    others on their dataset base's train dataloader, unchanged."""
    cfg = load(path)
    loader = cfg.train_dataloader
    finetune = is_finetune(path)
    base = dataset_bases(finetune)[loader.dataset.type]
    vanilla_batch, vanilla_pipeline = (
        FINETUNE_TRAIN if finetune else VANILLA_TRAIN)[loader.dataset.type]
    assert plain(base.train_dataloader.dataset.pipeline) == vanilla_pipeline
    assert base.train_dataloader.batch_size == vanilla_batch
    assert 'batch_sampler' not in loader
    for split in ('val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        for part in ([dataset.in_dist, dataset.ood]
                     if dataset.type == 'OODDataset' else [dataset]):
            assert member_views(part.get('pipeline', [])) == []
    lr = cfg.optim_wrapper.optimizer.lr
    single_network_lr = (
        FINETUNE_LR[cfg.optim_wrapper.optimizer.type] if finetune else
        FROM_SINGLE_NETWORK_LR if path.endswith('-ft.py') else
        SINGLE_NETWORK_LR[loader.dataset.type])
    name = recipe_name(path)
    recipe_gpus = RECIPE_GPUS.get(loader.dataset.type, 1)
    if cfg.model.type != 'MixMoClassifier':
        assert member_views(loader.dataset.pipeline) == []
        assert plain(loader) == plain(base.train_dataloader)
        assert lr == single_network_lr
        if name.startswith(
                ('baselines', 'imagefolder', 'quickstart', FINETUNE)):
            assert batch_in_name(name) == (recipe_gpus, vanilla_batch, 1)
        return

    (views, ) = member_views(loader.dataset.pipeline)
    assert views.num_members == cfg.model.num_members
    gpus, slots, repeats = batch_in_name(name)
    assert gpus == recipe_gpus and repeats > 1
    assert views.num_repeats == repeats
    assert loader.batch_size * views.num_repeats == slots == vanilla_batch
    # every view is the single network's augmentation of the image ...
    augments = [
        t for t in vanilla_pipeline
        if not t['type'].startswith('Load') and t['type'] != 'PackInputs'
    ]
    assert plain(views.transforms) == plain(base.train_augments) == augments
    # ... in its place: expanded, the pipeline is the single network's
    expanded = [
        step for t in loader.dataset.pipeline
        for step in (t.transforms if t.type == 'MemberViews' else [t])
    ]
    assert plain(expanded) == vanilla_pipeline
    # and the rest of the loader is the dataset base's
    rest, base_rest = plain(loader), plain(base.train_dataloader)
    for value in (rest, base_rest):
        del value['batch_size'], value['dataset']['pipeline']
    assert rest == base_rest
    if name in LR_NOT_DIVIDED_BY_B:
        assert lr == single_network_lr
    else:
        assert lr == pytest.approx(single_network_lr / views.num_repeats)
    if name != relpath(path):  # named after the recipe it trains
        recipe = load(osp.join(REPO_ROOT, 'configs', name))
        assert plain(loader) == plain(recipe.train_dataloader)
        assert plain(cfg.optim_wrapper) == plain(recipe.optim_wrapper)


def test_auto_scale_lr_keeps_the_recipe_on_its_gpus():
    """``tools/train.py --auto-scale-lr`` on the GPUs of the config's name
    trains with the config's lr: mmengine's ``Runner.scale_lr`` multiplies
    it by GPUs x ``train_dataloader.batch_size`` / ``base_batch_size``."""
    ratios = {}
    for path in CONFIGS:
        name = recipe_name(path)
        if not re.search(r'_\d+xb\d+', name):
            continue  # the ensembles: evaluation only
        cfg = load(path)
        ratios[relpath(path)] = (
            batch_in_name(name)[0] * cfg.train_dataloader.batch_size /
            cfg.auto_scale_lr.base_batch_size)
    ensembles = [
        p for p in CONFIGS if load(p).model.type == 'EnsembleClassifier'
    ]
    assert len(ratios) == len(CONFIGS) - len(ensembles)
    assert {k: v for k, v in ratios.items() if v != 1} == {}


OOD_CONFIGS = [p for p in CONFIGS if '_vs-' in osp.basename(p)]


@pytest.mark.parametrize('path', OOD_CONFIGS, ids=relpath)
def test_ood_config_tests_the_model_on_its_own_set_and_metrics(path):
    """An OOD config is its model's config (first base) with an
    ``OODDataset`` whose in-distribution part is the model's own test set,
    and the model's test metrics restricted to it, plus ``OODMetric``."""
    model = load(model_base(path))
    cfg = load(path)
    assert plain(cfg.model) == plain(model.model)
    dataset = cfg.test_dataloader.dataset
    assert dataset.type == 'OODDataset'
    assert plain(dataset.in_dist) == plain(model.test_dataloader.dataset)
    ood_set = osp.basename(path)[:-3].split('_vs-')[1]
    assert dataset.ood.type == dict(
        svhn='SVHN', cifar100='CIFAR100', digits='Digits',
        imagefolder='CustomDataset')[ood_set]
    *wrapped, last = cfg.test_evaluator
    assert last == dict(type='OODMetric')
    assert [w.type for w in wrapped] == ['InDistributionMetric'] * len(wrapped)
    metrics, own = [plain(w.metric) for w in wrapped], plain(
        model.test_evaluator)
    # top-5 is reported on every OOD test set, top-1 as the model's config
    assert metrics[0] == dict(type='Accuracy', topk=(1, 5))
    assert own[0]['type'] == 'Accuracy' and own[0]['topk'][0] == 1
    assert metrics[1:] == own[1:]
