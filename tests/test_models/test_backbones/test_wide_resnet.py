import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from mmmixmo.models.backbones import WideResNet
from mmmixmo.models.backbones.wide_resnet import WideBasicBlock


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def freeze_bn_identity(module: nn.Module) -> None:
    """Eval-mode BN with unit stats: bn(x) = x * weight + bias (eps aside)."""
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
            m.eps = 0.0
    module.eval()


@pytest.mark.parametrize('num_classes,expected', [(100, 36_536_884),
                                                  (10, 36_479_194)])
def test_wrn_28_10_param_count(num_classes, expected):
    backbone = WideResNet(depth=28, widen_factor=10)
    head = nn.Linear(backbone.out_channels, num_classes)
    assert backbone.out_channels == 640
    assert num_params(backbone) + num_params(head) == expected


def test_layout_of_wrn_28_10():
    model = WideResNet()
    assert [len(getattr(model, n)) for n in model.res_layers] == [4, 4, 4]
    assert model.conv1.in_channels == 3 and model.conv1.out_channels == 16
    assert model.conv1.kernel_size == (3, 3) and model.conv1.stride == (1, 1)
    assert model.conv1.padding == (1, 1)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is None for c in convs)
    # 1 stem + 12 blocks x 2 convs + 3 shortcuts (first block of each stage)
    assert len(convs) == 1 + 24 + 3
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())
    strides = [getattr(model, n)[0].stride for n in model.res_layers]
    assert strides == [1, 2, 2]
    widths = [getattr(model, n)[-1].out_channels for n in model.res_layers]
    assert widths == [160, 320, 640]


def test_full_size_output_shapes_on_meta_device():
    with torch.device('meta'):
        model = WideResNet(out_indices=(0, 1, 2))
        outs = model(torch.empty(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 160, 32, 32),
                                              (2, 320, 16, 16), (2, 640, 8, 8)]


def test_tiny_output_shapes():
    model = WideResNet(depth=10, widen_factor=1, out_indices=(0, 1, 2))
    outs = model(torch.randn(2, 3, 32, 32))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [(2, 16, 32, 32), (2, 32, 16, 16),
                                              (2, 64, 8, 8)]
    default = WideResNet(depth=10, widen_factor=1)
    (out, ) = default(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 64, 8, 8)
    assert WideResNet(
        depth=10, widen_factor=1, out_indices=-1).out_indices == (2, )


@pytest.mark.parametrize('depth', [27, 29, 4, '28'])
def test_bad_depth(depth):
    with pytest.raises(ValueError, match='model.backbone.depth'):
        WideResNet(depth=depth)


def test_bad_out_indices():
    with pytest.raises(ValueError, match='model.backbone.out_indices'):
        WideResNet(depth=10, widen_factor=1, out_indices=(3, ))


def test_stride2_block_uses_tf_same_asymmetric_padding():
    torch.manual_seed(0)
    block = WideBasicBlock(3, 4, stride=2)
    assert block.conv2.stride == (2, 2) and block.conv2.padding == (0, 0)
    assert block.conv1.stride == (1, 1) and block.conv1.padding == (1, 1)
    freeze_bn_identity(block)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        out = block(x)
        hidden = F.conv2d(F.relu(x), block.conv1.weight, padding=1)
        expected = F.conv2d(
            F.pad(F.relu(hidden), (0, 1, 0, 1)), block.conv2.weight, stride=2)
        expected = expected + F.conv2d(x, block.shortcut.weight, stride=2)
        symmetric = F.conv2d(
            F.relu(hidden), block.conv2.weight, stride=2, padding=1)
    assert out.shape == (2, 4, 4, 4)
    assert torch.allclose(out, expected, atol=1e-5)
    # the symmetric padding gives another result (the test can fail)
    assert not torch.allclose(
        symmetric + F.conv2d(x, block.shortcut.weight, stride=2),
        out,
        atol=1e-3)


def test_stride2_conv_equals_right_bottom_pad_by_hand():
    """A single output pixel computed by hand from the padded input."""
    block = WideBasicBlock(1, 1, stride=2)
    with torch.no_grad():
        block.conv2.weight.copy_(torch.arange(9.).view(1, 1, 3, 3))
    x = torch.arange(16.).view(1, 1, 4, 4)
    out = block.conv2(block.pad(x))
    assert out.shape == (1, 1, 2, 2)
    # output (1, 1) sees rows 2..4 and cols 2..4; row/col 4 is padding
    w = torch.arange(9.).view(3, 3)
    window = torch.zeros(3, 3)
    window[:2, :2] = x[0, 0, 2:, 2:]
    assert out[0, 0, 1, 1].item() == pytest.approx((w * window).sum().item())
    # output (0, 0) sees rows/cols 0..2, no padding involved
    assert out[0, 0, 0, 0].item() == pytest.approx(
        (w * x[0, 0, :3, :3]).sum().item())


def test_shortcut_is_applied_to_raw_input():
    torch.manual_seed(0)
    block = WideBasicBlock(3, 6, stride=2)
    freeze_bn_identity(block)
    with torch.no_grad():
        # bn1 zeroes the pre-activation, so the residual branch is 0
        block.bn1.weight.zero_()
        block.bn1.bias.zero_()
        x = torch.randn(2, 3, 8, 8)
        out = block(x)
        raw = F.conv2d(x, block.shortcut.weight, stride=2)
    assert raw.abs().max() > 0.1
    assert torch.allclose(out, raw, atol=1e-6)

    identity_block = WideBasicBlock(6, 6, stride=1)
    assert isinstance(identity_block.shortcut, nn.Identity)
    freeze_bn_identity(identity_block)
    with torch.no_grad():
        identity_block.bn1.weight.zero_()
        identity_block.bn1.bias.zero_()
        y = torch.randn(2, 6, 5, 5)
        assert torch.equal(identity_block(y), y)


def test_final_bn_relu_only_on_last_stage():
    torch.manual_seed(0)
    model = WideResNet(depth=10, widen_factor=1, out_indices=(1, 2))
    captured = {}
    model.layer3.register_forward_hook(
        lambda m, i, o: captured.setdefault('layer3', o.clone()))
    mid, last = model(torch.randn(4, 3, 16, 16))
    assert mid.min() < 0  # stage 1 output is not post BN-ReLU
    assert last.min() >= 0
    expected = F.relu(model.final_norm(captured['layer3']))
    assert torch.allclose(last, expected, atol=1e-6)


def test_conv1_is_applied_first_and_only_once():
    torch.manual_seed(0)
    model = WideResNet(depth=10, widen_factor=1).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        (expected, ) = model(x)
        stem = model.conv1(x)
        model.conv1 = nn.Identity()
        (out, ) = model(stem)
    assert torch.allclose(out, expected, atol=1e-6)


def test_default_init_is_authors_init():
    torch.manual_seed(0)
    model = WideResNet(depth=10, widen_factor=2)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(5.0)
                m.bias.fill_(5.0)
    model.init_weights()  # no default scope needed
    conv = model.layer3[0].conv2  # 128 x 128 x 3 x 3 = 147456 weights
    std = math.sqrt(2.0 / (128 * 9))
    assert conv.weight.abs().max() <= 2 * std / 0.8796 + 1e-7
    assert conv.weight.std().item() == pytest.approx(std, rel=0.01)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.all(m.weight == 1) and torch.all(m.bias == 0)


def test_upstream_kaiming_selectable():
    model = WideResNet(
        depth=10,
        widen_factor=2,
        init_cfg=dict(type='Kaiming', layer='Conv2d', mode='fan_in'))
    model.init_weights()
    w = model.layer3[0].conv2.weight
    std = math.sqrt(2.0 / (128 * 9))
    assert w.abs().max() > 3 * std  # not truncated
    assert w.std().item() == pytest.approx(std, rel=0.02)


def test_image_classifier_integration():
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type='WideResNet', depth=10, widen_factor=1),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=10,
                in_channels=64,
                loss=dict(type='CrossEntropyLoss'))))
    model.init_weights()
    assert isinstance(model.backbone, WideResNet)
    inputs = torch.randn(4, 3, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in range(4)]
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss'}
    loss = losses['loss']
    assert torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        preds = model(inputs, samples, mode='predict')
    assert len(preds) == 4
    for pred in preds:
        assert pred.pred_score.shape == (10, )
        assert pred.pred_score.sum().item() == pytest.approx(1.0, abs=1e-5)
        assert 0 <= pred.pred_label.item() < 10
