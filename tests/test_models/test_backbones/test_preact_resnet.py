import gc
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from mmmixmo.models.backbones import PreActResNet
from mmmixmo.models.backbones.preact_resnet import PreActBasicBlock


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def freeze_bn_identity(module: nn.Module) -> None:
    """Eval-mode BN with unit stats: bn(x) = x * weight + bias."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
            m.eps = 0.0
    module.eval()


@pytest.mark.parametrize('width,expected', [(1, 11_268_616), (2, 44_784_648),
                                            (3, 100_537_864)])
def test_tiny_imagenet_param_counts(width, expected):
    backbone = PreActResNet(depth=18, width=width, stem_stride=2)
    head = nn.Linear(backbone.out_channels, 200)
    assert backbone.out_channels == 512 * width
    # the stem is not widened
    assert backbone.conv1.out_channels == 64
    assert backbone.conv1.stride == (2, 2)
    assert num_params(backbone) + num_params(head) == expected
    del backbone, head
    gc.collect()


def test_layouts():
    r18 = PreActResNet(depth=18)
    r34 = PreActResNet(depth=34)
    assert [len(getattr(r18, n)) for n in r18.res_layers] == [2, 2, 2, 2]
    assert [len(getattr(r34, n)) for n in r34.res_layers] == [3, 4, 6, 3]
    assert [getattr(r18, n)[0].stride for n in r18.res_layers] == [1, 2, 2, 2]
    assert [getattr(r18, n)[-1].out_channels
            for n in r18.res_layers] == [64, 128, 256, 512]
    convs = [m for m in r18.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is None for c in convs)
    # 1 stem + 8 blocks x 2 convs + 3 shortcuts (stages 2..4)
    assert len(convs) == 1 + 16 + 3
    assert r18.conv1.stride == (1, 1) and r18.conv1.padding == (1, 1)
    # no norm after the last stage: the last module is a block's conv
    assert not any('final' in name for name, _ in r18.named_modules())


@pytest.mark.parametrize('depth', [50, 20, '18'])
def test_bad_depth(depth):
    with pytest.raises(ValueError, match='model.backbone.depth'):
        PreActResNet(depth=depth)


def test_bad_width_and_out_indices():
    with pytest.raises(ValueError, match='model.backbone.width'):
        PreActResNet(width=0)
    with pytest.raises(ValueError, match='model.backbone.out_indices'):
        PreActResNet(out_indices=(4, ))


def test_tiny_imagenet_output_shape():
    torch.manual_seed(0)
    model = PreActResNet(width=1, stem_stride=2).eval()
    with torch.no_grad():
        (out, ) = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 512, 4, 4)


@pytest.mark.parametrize('width', [2, 3])
def test_wide_output_shapes_on_meta_device(width):
    with torch.device('meta'):
        model = PreActResNet(
            width=width, stem_stride=2, out_indices=(0, 1, 2, 3))
        outs = model(torch.empty(2, 3, 64, 64))
    w = width
    assert [tuple(o.shape) for o in outs] == [(2, 64 * w, 32, 32),
                                              (2, 128 * w, 16, 16),
                                              (2, 256 * w, 8, 8),
                                              (2, 512 * w, 4, 4)]


def test_block_matches_hand_computation():
    torch.manual_seed(0)
    block = PreActBasicBlock(3, 5, stride=2)
    assert block.conv1.stride == (2, 2) and block.conv1.padding == (1, 1)
    assert block.conv2.stride == (1, 1) and block.conv2.padding == (1, 1)
    freeze_bn_identity(block)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        out = block(x)
        act = F.relu(x)
        hidden = F.conv2d(act, block.conv1.weight, stride=2, padding=1)
        expected = F.conv2d(F.relu(hidden), block.conv2.weight, padding=1)
        expected = expected + F.conv2d(act, block.shortcut.weight, stride=2)
    assert out.shape == (2, 5, 4, 4)
    assert torch.allclose(out, expected, atol=1e-5)


def test_shortcut_is_applied_to_preactivated_input():
    torch.manual_seed(0)
    block = PreActBasicBlock(3, 6, stride=2)
    freeze_bn_identity(block)
    with torch.no_grad():
        # bn2 zeroes the residual branch, bn1 is the identity
        block.bn2.weight.zero_()
        block.bn2.bias.zero_()
        x = torch.randn(2, 3, 8, 8)
        out = block(x)
        pre = F.conv2d(F.relu(x), block.shortcut.weight, stride=2)
        raw = F.conv2d(x, block.shortcut.weight, stride=2)
    assert torch.allclose(out, pre, atol=1e-6)
    assert not torch.allclose(out, raw, atol=1e-2)

    # same shape: identity on the raw input (negative values survive)
    identity_block = PreActBasicBlock(6, 6, stride=1)
    assert identity_block.shortcut is None
    freeze_bn_identity(identity_block)
    with torch.no_grad():
        identity_block.bn2.weight.zero_()
        identity_block.bn2.bias.zero_()
        y = torch.randn(2, 6, 5, 5)
        assert torch.equal(identity_block(y), y)


def test_no_final_norm_and_conv1_first():
    torch.manual_seed(0)
    model = PreActResNet(width=1, stem_stride=2).eval()
    captured = {}
    model.layer4.register_forward_hook(
        lambda m, i, o: captured.setdefault('layer4', o.clone()))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        (out, ) = model(x)
        assert torch.equal(out, captured['layer4'])
        assert out.min() < 0  # not post ReLU
        stem = model.conv1(x)
        assert stem.shape == (1, 64, 16, 16)
        model.conv1 = nn.Identity()
        (out2, ) = model(stem)
    assert torch.allclose(out2, out, atol=1e-5)


def test_default_init_is_authors_init():
    torch.manual_seed(0)
    model = PreActResNet(width=1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(5.0)
                m.bias.fill_(5.0)
    model.init_weights()
    w = model.layer2[1].conv1.weight  # 128 x 128 x 3 x 3 = 147456 weights
    std = math.sqrt(2.0 / (128 * 9))
    assert w.abs().max() <= 2 * std / 0.8796 + 1e-7
    assert w.std().item() == pytest.approx(std, rel=0.01)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_image_classifier_integration():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='PreActResNet', depth=18, stem_stride=2),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=7,
                in_channels=512,
                loss=dict(type='CrossEntropyLoss'))))
    model.init_weights()
    assert isinstance(model.backbone, PreActResNet)
    inputs = torch.randn(3, 3, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in range(3)]
    losses = model(inputs, samples, mode='loss')
    loss = losses['loss']
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        preds = model(inputs, samples, mode='predict')
    assert len(preds) == 3
    for pred in preds:
        assert pred.pred_score.shape == (7, )
        assert pred.pred_score.sum().item() == pytest.approx(1.0, abs=1e-5)
