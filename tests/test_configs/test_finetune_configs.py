"""The fine-tuning configs (configs/finetune): mmpretrain's ImageNet-1k
checkpoints, and the full-size models they start.

Offline: the checkpoint addresses are checked against the model index of the
installed mmpretrain (its metafiles), the full-size networks are built with
random weights, never downloaded. test_all_configs trains every config for
2 iterations from a local tiny checkpoint.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope
from mmpretrain.apis.model import ModelHub
from mmpretrain.registry import MODELS
from torch import nn

from mmmixmo.models.utils import fold_members
from tests.conftest import REPO_ROOT
from tests.test_configs.test_all_configs import load, plain

FOLDER = osp.join(REPO_ROOT, 'configs', 'finetune')
CONFIGS = sorted(glob.glob(osp.join(FOLDER, '*.py')))
# The mmpretrain model (metafile name) each backbone type starts from, and
# its weights as configs/resnet/metafile.yml and
# configs/swin_transformer/metafile.yml of mmpretrain give them.
ZOO = {
    'ResNet': ('resnet50', 'resnet50_8xb32_in1k'),
    'SwinTransformer': ('swin-tiny', 'swin-tiny_16xb64_in1k'),
}
WEIGHTS = {
    'resnet50_8xb32_in1k':
    'https://download.openmmlab.com/mmclassification/v0/resnet/'
    'resnet50_8xb32_in1k_20210831-ea4938fc.pth',
    'swin-tiny_16xb64_in1k':
    'https://download.openmmlab.com/mmclassification/v0/swin-transformer/'
    'swin_tiny_224_b16x64_300e_imagenet_20210616_090925-66df6be6.pth',
}
# The first convolution of each backbone (found by MixMoClassifier).
ENCODER_LAYER = dict(ResNet='conv1', SwinTransformer='patch_embed.projection')
# mmpretrain's ResNet-50 without its 1000-class head, its stem convolution
RESNET50_BACKBONE = 25_557_032 - (2048 * 1000 + 1000)
RESNET50_STEM = 64 * 3 * 7 * 7


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')  # as the Runner does


def name(path: str) -> str:
    return osp.basename(path)[:-3]


def zoo_model(path: str) -> str:
    return ZOO[load(path).model.backbone.type][1]


def single_network(path: str, num_classes: int) -> nn.Module:
    """mmpretrain's network of the config's checkpoint, ``num_classes``."""
    model = ModelHub.get(zoo_model(path)).config.model
    model.head.num_classes = num_classes
    return MODELS.build(model)


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_one_config_per_method_backbone_and_data():
    assert [name(p) for p in CONFIGS] == [
        'cut-mixmo_resnet50_in1k-pre_1xb64-b2_cifar100-224px',
        'cut-mixmo_resnet50_in1k-pre_1xb64-b2_imagefolder-224px',
        'cut-mixmo_swin-tiny_in1k-pre_1xb64-b2_imagefolder-224px',
        'mimo_resnet50_in1k-pre_1xb64-b2_cifar100-224px',
        'mimo_resnet50_in1k-pre_1xb64-b2_imagefolder-224px',
        'vanilla_resnet50_in1k-pre_1xb64_cifar100-224px',
        'vanilla_resnet50_in1k-pre_1xb64_imagefolder-224px',
    ]


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_backbone_starts_from_mmpretrain_checkpoint(path):
    """The backbone loads the ``backbone.`` weights of mmpretrain's
    ImageNet-1k network (its model zoo's download address), which is the
    config's backbone: same architecture, the name's ``in1k-pre``."""
    cfg = load(path)
    backbone = cfg.model.backbone.to_dict()
    init_cfg = backbone.pop('init_cfg')
    arch, model = ZOO[backbone['type']]
    assert name(path).split('_')[1:3] == [arch, 'in1k-pre']
    url = ModelHub.get(model).weights
    assert url == WEIGHTS[model]
    assert url.startswith('https://download.openmmlab.com/mmclassification/')
    assert init_cfg == dict(type='Pretrained', checkpoint=url,
                            prefix='backbone')
    assert cfg.get('load_from') is None
    zoo = ModelHub.get(model).config
    assert plain(backbone) == plain(zoo.model.backbone.to_dict())
    # 224 x 224 images, as the pretrained network's test crop
    assert plain(zoo.test_pipeline[-2]) == dict(
        type='CenterCrop', crop_size=224)
    pipeline = plain(cfg.val_dataloader.dataset.pipeline)
    assert pipeline[-2] in (dict(type='CenterCrop', crop_size=224),
                            dict(type='Resize', scale=224))
    # the image folder is normalised as the pretrained network's ImageNet
    preprocessor = cfg.model.get('data_preprocessor',
                                 cfg.get('data_preprocessor'))
    if 'imagefolder' in name(path):
        for key in ('mean', 'std', 'to_rgb'):
            assert preprocessor[key] == zoo.data_preprocessor[key]


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_full_size_model_is_the_checkpoint_network_plus_members(path):
    """Full size, the model has every weight of mmpretrain's network (the
    checkpoint fills all of its backbone: same keys and shapes) and, for
    MixMo, one more first convolution and head per member beyond the
    first; the heads are new (K classes)."""
    cfg = load(path)
    num_classes = cfg.model.head.num_classes
    single = single_network(path, num_classes)
    model = MODELS.build(cfg.model)
    backbone = {
        k: v.shape
        for k, v in single.state_dict().items() if k.startswith('backbone.')
    }
    if cfg.model.type == 'VanillaClassifier':
        assert num_params(model) == num_params(single)
        shapes = {k: v.shape for k, v in model.state_dict().items()}
        assert shapes == {k: v.shape for k, v in single.state_dict().items()}
        return
    layer = model.encoder_layer
    first = single.backbone.get_submodule(layer)
    assert isinstance(first, nn.Conv2d) and first.in_channels == 3
    assert layer == ENCODER_LAYER[cfg.model.backbone.type]
    stem, head = num_params(first), num_params(single.head)
    extra = cfg.model.num_members - 1
    assert num_params(model) == num_params(single) + extra * (stem + head)
    if cfg.model.backbone.type == 'ResNet':
        assert stem == RESNET50_STEM
        assert head == 2048 * num_classes + num_classes
        assert num_params(model) == RESNET50_BACKBONE + stem + 2 * head
        if num_classes == 100:
            assert num_params(single) == 23_712_932
            assert num_params(model) == 23_927_240
    # the checkpoint's backbone keys: the shared core, and the encoder
    # layer that unfolds into the members' encoders
    mixmo = {
        k: v.shape
        for k, v in model.state_dict().items() if k.startswith('backbone.')
    }
    for param in ('weight', 'bias'):
        if getattr(first, param) is not None:
            mixmo[f'backbone.{layer}.{param}'] = getattr(
                model.encoders.convs[0], param).shape
    assert mixmo == backbone


def test_mixmo_and_vanilla_configs_share_the_recipe():
    """On each dataset the MixMo configs and the single network's train on
    the same data, schedule and optimizer; MixMo's lr is / b (b = 2), per
    image as the single network's: the one that fits 32 images x b slots.
    Swin-T changes only the backbone and the optimizer."""

    def recipe(cfg):
        return plain(
            dict(
                param_scheduler=cfg.param_scheduler,
                train_cfg=cfg.train_cfg,
                val=cfg.val_dataloader,
                test=cfg.test_dataloader,
                val_evaluator=cfg.val_evaluator,
                default_hooks=cfg.default_hooks))

    for data in ('imagefolder', 'cifar100'):
        vanilla = load(
            osp.join(FOLDER,
                     f'vanilla_resnet50_in1k-pre_1xb64_{data}-224px.py'))
        for method in ('mimo', 'cut-mixmo'):
            cfg = load(
                osp.join(FOLDER, f'{method}_resnet50_in1k-pre_1xb64-b2_'
                         f'{data}-224px.py'))
            assert recipe(cfg) == recipe(vanilla)
            optimizer = plain(cfg.optim_wrapper.to_dict())
            single = plain(vanilla.optim_wrapper.to_dict())
            assert optimizer['optimizer'].pop('lr') == pytest.approx(
                single['optimizer'].pop('lr') / 2)
            assert optimizer == single
            assert cfg.train_dataloader.batch_size * 2 == \
                vanilla.train_dataloader.batch_size == 64
            assert cfg.auto_scale_lr.base_batch_size == 32
            assert cfg.model.head.num_classes == vanilla.model.head.num_classes
    resnet = load(
        osp.join(FOLDER,
                 'cut-mixmo_resnet50_in1k-pre_1xb64-b2_imagefolder-224px.py'))
    swin = load(
        osp.join(FOLDER,
                 'cut-mixmo_swin-tiny_in1k-pre_1xb64-b2_imagefolder-224px.py'))
    assert recipe(swin) == recipe(resnet)
    assert plain(swin.train_dataloader) == plain(resnet.train_dataloader)
    assert plain(swin.custom_hooks) == plain(resnet.custom_hooks)
    for cfg in (swin, resnet):
        del cfg.model['backbone'], cfg.model.head['in_channels']
        cfg.model.pop('encoder_layer', None)
    assert plain(swin.model) == plain(resnet.model)
    # Swin-T's ImageNet AdamW (1e-3 per 1024 images) / 5, per 64 images, / b
    zoo = ModelHub.get('swin-tiny_16xb64_in1k').config.optim_wrapper
    optim_wrapper = plain(swin.optim_wrapper.to_dict())
    lr = optim_wrapper['optimizer'].pop('lr')
    assert lr == pytest.approx(zoo.optimizer.lr * 64 / 1024 / 5 / 2)
    expected = plain(zoo.to_dict())
    del expected['optimizer']['lr']
    assert optim_wrapper == expected


@pytest.mark.parametrize('path', [
    osp.join(FOLDER, 'cut-mixmo_resnet50_in1k-pre_1xb64-b2_cifar100-224px.py'),
    osp.join(FOLDER,
             'cut-mixmo_swin-tiny_in1k-pre_1xb64-b2_imagefolder-224px.py'),
],
                         ids=name)
def test_full_size_model_at_step_0_is_the_pretrained_network(path, tmp_path):
    """A random full-size network of the checkpoint's architecture, saved
    as mmpretrain's: the config's model loads it (``init_cfg``) and, on a
    shared image, computes its features exactly; the member encoders are
    its first convolution / M."""
    torch.manual_seed(0)
    single = single_network(path, 1000)
    single.init_weights()
    with torch.no_grad():
        for param in single.parameters():
            param.add_(0.01 * torch.randn_like(param))
    single.eval()
    checkpoint = str(tmp_path / 'pretrained.pth')
    torch.save(dict(state_dict=single.state_dict(), meta=dict()), checkpoint)
    cfg = load(path)
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    first = single.backbone.get_submodule(model.encoder_layer)
    convs = model.encoders.convs
    assert torch.equal(fold_members([c.weight for c in convs]), first.weight)
    torch.testing.assert_close(convs[0].weight, first.weight / len(convs))
    if first.bias is not None:
        assert torch.equal(fold_members([c.bias for c in convs]), first.bias)
    image = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expected = single.extract_feat(image)
        feats = model.extract_feat(image)
    assert feats[-1].shape == expected[-1].shape
    assert torch.equal(feats[-1], expected[-1])
