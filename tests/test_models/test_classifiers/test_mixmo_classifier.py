import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

import mmmixmo  # noqa: F401
from mmmixmo.models.utils import EncoderSlot
from tests.utils.models import randomize_weights


def tiny_cfg(num_members=2, num_classes=10, mixing='CutOrLinearMixing'):
    return dict(
        type='MixMoClassifier',
        num_members=num_members,
        backbone=dict(type='WideResNet', depth=10, widen_factor=1),
        mixing=dict(type=mixing),
        head=dict(
            type='MultiHeadClsHead', num_classes=num_classes,
            in_channels=64),
        data_preprocessor=dict(
            type='MixMoDataPreprocessor', mean=[0.] * 3, std=[1.] * 3))


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def mixmo(backbone, num_classes, in_channels):
    return dict(
        type='MixMoClassifier',
        backbone=backbone,
        mixing=dict(type='CutOrLinearMixing'),
        head=dict(
            type='MultiHeadClsHead',
            num_classes=num_classes,
            in_channels=in_channels))


@pytest.mark.parametrize('num_classes,expected', [(100, 36_601_416),
                                                  (10, 36_486_036)])
def test_wrn28_10_parameter_count(num_classes, expected):
    model = MODELS.build(
        mixmo(
            dict(type='WideResNet', depth=28, widen_factor=10), num_classes,
            640))
    assert num_params(model) == expected


@pytest.mark.parametrize('width,expected', [(1, 11_372_944),
                                            (2, 44_991_376),
                                            (3, 100_846_992)])
def test_preact_resnet18_tiny_parameter_count(width, expected):
    model = MODELS.build(
        mixmo(
            dict(
                type='PreActResNet', depth=18, width=width, stem_stride=2),
            200, 512 * width))
    assert num_params(model) == expected


def test_encoders_replace_first_conv():
    model = MODELS.build(tiny_cfg())
    assert model.encoder_layer == 'conv1'  # found: the one 3-channel conv
    assert isinstance(model.backbone.conv1, EncoderSlot)
    assert model.backbone.conv1.encoders is model.encoders
    assert len(model.encoders.convs) == 2
    # the slot holds no weights: the encoders are saved as encoders.*
    assert not [
        k for k in model.state_dict() if k.startswith('backbone.conv1')
    ]
    assert model.mixing.num_members == 2
    assert model.head.num_members == 2
    assert model.data_preprocessor.num_members == 2


def _test_batch(batch_size=4, num_classes=10, size=32):
    """A test batch: ``batch_size`` random uint8 ``(3, size, size)`` images."""
    inputs = [
        torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
        for _ in range(batch_size)
    ]
    samples = [
        DataSample().set_gt_label(i % num_classes) for i in range(batch_size)
    ]
    return dict(inputs=inputs, data_samples=samples)


def _train_batch(num_images=2, num_repeats=2, num_members=2, size=32):
    """A training batch as the train dataloader gives it.

    ``num_images`` random images (image k of label k) through the configs'
    ``MemberViews`` + ``PackInputs`` pipeline, then ``pseudo_collate``:
    ``inputs[i][r]`` holds member i's r-th view of every image, which the
    preprocessor pairs into ``num_repeats * num_images`` slots.
    """
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        pipeline = Compose([
            dict(
                type='MemberViews',
                num_repeats=num_repeats,
                num_members=num_members,
                transforms=[
                    dict(type='RandomCrop', crop_size=size, padding=4),
                    dict(type='RandomFlip', prob=0.5, direction='horizontal')
                ]),
            dict(type='PackInputs'),
        ])
    return pseudo_collate([
        pipeline(
            dict(
                img=np.random.randint(0, 256, (size, size, 3), np.uint8),
                gt_label=k,
                sample_idx=k,
                img_shape=(size, size),
                ori_shape=(size, size))) for k in range(num_images)
    ])


def test_three_modes():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg())
    model.init_weights()
    # 2 images x 2 repeats: 4 slots, every member sees each image twice
    data = model.data_preprocessor(_train_batch(), training=True)
    assert data['inputs'].shape == (4, 2, 3, 32, 32)
    labels = torch.stack([s.member_gt_label for s in data['data_samples']])
    assert labels.T.sort().values.tolist() == [[0, 0, 1, 1], [0, 0, 1, 1]]
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_head0', 'loss_head1'}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert model.encoders.convs[1].weight.grad is not None

    model.eval()
    data = model.data_preprocessor(_test_batch(), training=False)
    assert data['inputs'].shape == (4, 3, 32, 32)
    logits = model(data['inputs'], mode='tensor')
    assert logits.shape == (4, 2, 10)
    preds = model(**data, mode='predict')
    assert preds[0].pred_score.shape == (10, )
    assert preds[0].member_logits.shape == (2, 10)


class _Stem(nn.Module):
    """A stand-in for the first convolution computing ``fn(input)``."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


def _with_stem(model, fn, x):
    """``model``'s ``mode='tensor'`` with ``fn`` at its encoder layer."""
    parent, _, child = model.encoder_layer.rpartition('.')
    parent = model.backbone.get_submodule(parent)
    slot = getattr(parent, child)
    setattr(parent, child, _Stem(fn))
    try:
        return model.head(model.neck(model.backbone(x)))
    finally:
        setattr(parent, child, slot)


def _unfolded(model, x):
    """The test-time network written out: sum of the M member encodings."""
    return _with_stem(
        model, lambda image: sum(conv(image) for conv in model.encoders.convs),
        x)


@pytest.mark.parametrize('num_members', [2, 3])
def test_eval_folds_the_encoders(num_members):
    torch.manual_seed(0)
    model = randomize_weights(MODELS.build(tiny_cfg(num_members)))
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(
            model(x, mode='tensor'), _unfolded(model, x), atol=1e-5)


def test_loss_is_the_head_loss_of_the_mixed_features():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg())
    model.init_weights()
    data = model.data_preprocessor(_train_batch(), training=True)
    torch.manual_seed(1)
    losses = model(**data, mode='loss')
    torch.manual_seed(1)
    mixed, masks = model.mixing(
        [conv(data['inputs'][:, i]) for i, conv in
         enumerate(model.encoders.convs)])
    parent = model.backbone
    slot, parent.conv1 = parent.conv1, _Stem(lambda stacked: mixed)
    feats = model.neck(model.backbone(data['inputs'].flatten(1, 2)))
    parent.conv1 = slot
    expected = model.head.loss(feats, data['data_samples'], masks)
    for key in ('loss_head0', 'loss_head1'):
        assert torch.equal(losses[key], expected[key])


def test_upstream_resnet_cifar_backbone():
    # ResNet_CIFAR-18 with 8 base channels ends with 8 * 8 = 64 channels
    cfg = mixmo(
        dict(type='ResNet_CIFAR', depth=18, stem_channels=8,
             base_channels=8), 10, 64)
    model = MODELS.build(cfg)
    model.init_weights()
    data = model.data_preprocessor(
        _train_batch(num_repeats=1), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_head0', 'loss_head1'}


@pytest.mark.parametrize('key', ['mixing', 'head', 'data_preprocessor'])
def test_member_mismatch_names_key(key):
    cfg = tiny_cfg()
    cfg[key]['num_members'] = 3
    with pytest.raises(ValueError, match=f'model.{key}.num_members'):
        MODELS.build(cfg)


@pytest.mark.parametrize('key,value,match', [
    ('num_members', 1, 'model.num_members'),
    ('encoder_layer', 'layer1', 'model.encoder_layer'),
    ('encoder_layer', 'layer1.0.conv1', 'model.encoder_layer'),
    ('encoder_layer', 'no_such_layer', 'model.encoder_layer'),
    ('data_preprocessor', dict(num_classes=100),
     'model.data_preprocessor.num_classes'),
])
def test_config_errors_name_the_key(key, value, match):
    cfg = tiny_cfg()
    cfg[key] = value
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg)


def test_non_mixmo_preprocessor_is_refused():
    cfg = tiny_cfg()
    cfg['data_preprocessor'] = dict(type='ClsDataPreprocessor')
    with pytest.raises(TypeError, match='model.data_preprocessor.type'):
        MODELS.build(cfg)


def test_typeless_preprocessor_defaults_to_mixmo():
    # mmpretrain's dataset configs give a `data_preprocessor` without type
    cfg = tiny_cfg()
    cfg['data_preprocessor'] = dict(mean=[1.] * 3, std=[2.] * 3)
    model = MODELS.build(cfg)
    assert type(model.data_preprocessor).__name__ == 'MixMoDataPreprocessor'
    assert model.data_preprocessor.num_members == 2


def test_upstream_imagenet_resnet_backbone():
    # mmpretrain's ResNet: conv1 (7x7, stride 2) -> norm1 -> relu -> maxpool
    cfg = mixmo(
        dict(type='ResNet', depth=18, stem_channels=8, base_channels=8),
        10, 64)
    model = MODELS.build(cfg)
    model.init_weights()
    assert model.encoders.convs[0].kernel_size == (7, 7)
    data = model.data_preprocessor(
        _train_batch(num_repeats=1, size=64), training=True)
    losses = model(**data, mode='loss')
    assert set(losses) == {'loss_head0', 'loss_head1'}
    randomize_weights(model)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(
            model(x, mode='tensor'), _unfolded(model, x), atol=1e-5)


def test_channels_last_same_outputs():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg())
    model.init_weights()
    cfg = tiny_cfg()
    cfg['channels_last'] = True
    nhwc = MODELS.build(cfg)
    nhwc.load_state_dict(model.state_dict())
    conv = nhwc.encoders.convs[0].weight
    assert conv.is_contiguous(memory_format=torch.channels_last)
    model.eval()
    nhwc.eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        feats = nhwc.extract_feat(x, stage='backbone')[-1]
        assert feats.is_contiguous(memory_format=torch.channels_last)
        assert torch.allclose(
            nhwc(x, mode='tensor'), model(x, mode='tensor'), atol=1e-5)
    model.train()
    nhwc.train()
    data = model.data_preprocessor(_train_batch(), training=True)
    torch.manual_seed(1)
    expected = model(**data, mode='loss')
    torch.manual_seed(1)
    got = nhwc(**data, mode='loss')
    for key in expected:
        assert torch.allclose(got[key], expected[key], atol=1e-4)


def test_bfloat16_autocast_loss():
    torch.manual_seed(0)
    model = MODELS.build(tiny_cfg())
    model.init_weights()
    data = model.data_preprocessor(_train_batch(), training=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model(**data, mode='loss')
    for value in losses.values():
        assert value.dtype == torch.float32 and torch.isfinite(value)
    sum(losses.values()).backward()
    assert torch.isfinite(model.encoders.convs[1].weight.grad).all()


@pytest.mark.parametrize('backbone,holder', [
    (dict(type='SwinTransformer', arch=dict(embed_dims=8, depths=[1, 1],
                                            num_heads=[1, 2]),
          window_size=4, out_indices=(1, ), frozen_stages=0), 'patch_embed'),
    (dict(type='MobileNetV2', widen_factor=0.25, out_indices=(2, ),
          frozen_stages=1), 'conv1'),
])
def test_frozen_stem_freezes_the_encoders(backbone, holder):
    # these backbones freeze the module holding the first convolution in
    # train(), not the convolution itself
    model = MODELS.build(mixmo(backbone, 10, 16))
    model.train()
    frozen = model.backbone.get_submodule(holder)
    assert not any(p.requires_grad for p in frozen.parameters())
    assert not any(p.requires_grad for p in model.encoders.parameters())
    free = MODELS.build(
        mixmo({k: v for k, v in backbone.items() if k != 'frozen_stages'},
              10, 16)).train()
    assert all(p.requires_grad for p in free.encoders.parameters())


def test_encoders_are_at_the_depth_of_the_first_convolution():
    # layer-wise lr decay (mmpretrain's LearningRateDecayOptimWrapper)
    model = MODELS.build(
        mixmo(
            dict(type='VisionTransformer', arch=dict(
                embed_dims=32, num_layers=2, num_heads=2,
                feedforward_channels=64), img_size=32, patch_size=8,
                 out_type='cls_token'), 10, 32) | dict(neck=None))
    assert model.get_layer_depth('encoders.convs.1.weight') == \
        model.get_layer_depth('backbone.pos_embed') == (0, 4)
    assert model.get_layer_depth('head.fc.weight') == (3, 4)
