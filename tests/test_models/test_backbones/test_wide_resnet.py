import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmmixmo.models.backbones import WideResNet
from mmmixmo.models.backbones.wide_resnet import WideBasicBlock


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('num_classes,expected', [(100, 36_536_884),
                                                  (10, 36_479_194)])
def test_wrn_28_10_param_count(num_classes, expected):
    backbone = WideResNet(depth=28, widen_factor=10)
    head = nn.Linear(640, num_classes)
    assert num_params(backbone) + num_params(head) == expected


def test_layout_of_wrn_28_10():
    model = WideResNet()
    stages = [getattr(model, name) for name in model.res_layers]
    assert [len(stage) for stage in stages] == [4, 4, 4]
    assert [stage[0].conv2.stride for stage in stages] == [(1, 1), (2, 2),
                                                           (2, 2)]
    assert [stage[-1].conv2.out_channels for stage in stages] == [
        160, 320, 640
    ]
    conv1 = model.conv1
    assert (conv1.in_channels, conv1.out_channels, conv1.kernel_size,
            conv1.stride, conv1.padding) == (3, 16, (3, 3), (1, 1), (1, 1))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is None for c in convs)
    # 1 stem + 12 blocks x 2 convs + 3 shortcuts (first block of each stage)
    assert len(convs) == 1 + 24 + 3
    assert not any(isinstance(m, nn.Dropout) for m in model.modules())


def test_output_shapes():
    with torch.device('meta'):
        model = WideResNet(out_indices=(0, 1, 2))
        outs = model(torch.empty(2, 3, 32, 32))
    assert [tuple(o.shape) for o in outs] == [(2, 160, 32, 32),
                                              (2, 320, 16, 16), (2, 640, 8, 8)]
    (out, ) = WideResNet(depth=10, widen_factor=1)(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 64, 8, 8)


@pytest.mark.parametrize('kwargs, key', [
    (dict(depth=27), 'depth'),
    (dict(depth=4), 'depth'),
    (dict(depth='28'), 'depth'),
    (dict(widen_factor=0), 'widen_factor'),
])
def test_bad_arguments(kwargs, key):
    with pytest.raises(ValueError, match=f'model.backbone.{key}'):
        WideResNet(**kwargs)


def test_stride2_block_uses_tf_same_asymmetric_padding(bn_identity):
    torch.manual_seed(0)
    block = bn_identity(WideBasicBlock(3, 4, stride=2))
    assert block.conv2.stride == (2, 2) and block.conv2.padding == (0, 0)
    assert block.conv1.stride == (1, 1) and block.conv1.padding == (1, 1)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        out = block(x)
        hidden = F.relu(F.conv2d(F.relu(x), block.conv1.weight, padding=1))
        shortcut = F.conv2d(x, block.shortcut.weight, stride=2)
        expected = F.conv2d(
            F.pad(hidden, (0, 1, 0, 1)), block.conv2.weight, stride=2)
        symmetric = F.conv2d(hidden, block.conv2.weight, stride=2, padding=1)
    assert out.shape == (2, 4, 4, 4)
    assert torch.allclose(out, expected + shortcut, atol=1e-5)
    # the symmetric padding gives another result (the test can fail)
    assert not torch.allclose(symmetric + shortcut, out, atol=1e-3)


def test_stride2_conv_equals_right_bottom_pad_by_hand():
    block = WideBasicBlock(1, 1, stride=2)
    with torch.no_grad():
        block.conv2.weight.copy_(torch.arange(9.).view(1, 1, 3, 3))
    x = torch.arange(16.).view(1, 1, 4, 4)
    out = block.conv2(block.pad(x))
    assert out.shape == (1, 1, 2, 2)
    w = torch.arange(9.).view(3, 3)
    # output (0, 0) sees rows/cols 0..2, no padding involved
    assert out[0, 0, 0, 0].item() == pytest.approx(
        (w * x[0, 0, :3, :3]).sum().item())
    # output (1, 1) sees rows/cols 2..4; row/col 4 is padding
    window = torch.zeros(3, 3)
    window[:2, :2] = x[0, 0, 2:, 2:]
    assert out[0, 0, 1, 1].item() == pytest.approx((w * window).sum().item())


def test_shortcut_is_applied_to_raw_input(bn_identity):
    torch.manual_seed(0)
    block = bn_identity(WideBasicBlock(3, 6, stride=2))
    identity_block = bn_identity(WideBasicBlock(6, 6, stride=1))
    assert isinstance(identity_block.shortcut, nn.Identity)
    x, y = torch.randn(2, 3, 8, 8), torch.randn(2, 6, 5, 5)
    with torch.no_grad():
        # bn1 zeroes the pre-activation, so the residual branch is 0
        for b in (block, identity_block):
            b.bn1.weight.zero_()
            b.bn1.bias.zero_()
        raw = F.conv2d(x, block.shortcut.weight, stride=2)
        assert raw.abs().max() > 0.1
        assert torch.allclose(block(x), raw, atol=1e-6)
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
