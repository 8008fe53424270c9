import gc

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmmixmo.models.backbones import PreActResNet
from mmmixmo.models.backbones.preact_resnet import PreActBasicBlock


@pytest.mark.parametrize('width,expected', [(1, 11_268_616), (2, 44_784_648),
                                            (3, 100_537_864)])
def test_tiny_imagenet_param_counts(width, expected):
    backbone = PreActResNet(depth=18, width=width, stem_stride=2)
    head = nn.Linear(512 * width, 200)
    # the stem is not widened
    assert backbone.conv1.out_channels == 64
    assert backbone.conv1.stride == (2, 2)
    assert sum(p.numel() for m in (backbone, head)
               for p in m.parameters()) == expected
    del backbone, head
    gc.collect()


def test_layouts():
    r18 = PreActResNet(depth=18)
    r34 = PreActResNet(depth=34)
    stages = [getattr(r18, name) for name in r18.res_layers]
    assert [len(stage) for stage in stages] == [2, 2, 2, 2]
    assert [len(getattr(r34, n)) for n in r34.res_layers] == [3, 4, 6, 3]
    assert [stage[0].conv1.stride[0] for stage in stages] == [1, 2, 2, 2]
    assert [stage[-1].conv2.out_channels
            for stage in stages] == [64, 128, 256, 512]
    convs = [m for m in r18.modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is None for c in convs)
    # 1 stem + 8 blocks x 2 convs + 3 shortcuts (stages 2..4)
    assert len(convs) == 1 + 16 + 3
    assert r18.conv1.stride == (1, 1) and r18.conv1.padding == (1, 1)
    assert not any('final' in name for name, _ in r18.named_modules())


@pytest.mark.parametrize('kwargs, key', [
    (dict(depth=50), 'depth'),
    (dict(depth='18'), 'depth'),
    (dict(width=0), 'width'),
    (dict(stem_stride=0), 'stem_stride'),
    (dict(base_channels=0), 'base_channels'),
])
def test_bad_arguments(kwargs, key):
    with pytest.raises(ValueError, match=f'model.backbone.{key}'):
        PreActResNet(**kwargs)


@pytest.mark.parametrize('width', [1, 3])
def test_tiny_imagenet_output_shapes(width):
    with torch.device('meta'):
        model = PreActResNet(
            width=width, stem_stride=2, out_indices=(0, 1, 2, 3))
        outs = model(torch.empty(2, 3, 64, 64))
    w = width
    assert [tuple(o.shape) for o in outs] == [(2, 64 * w, 32, 32),
                                              (2, 128 * w, 16, 16),
                                              (2, 256 * w, 8, 8),
                                              (2, 512 * w, 4, 4)]


def test_block_matches_hand_computation(bn_identity):
    torch.manual_seed(0)
    block = bn_identity(PreActBasicBlock(3, 5, stride=2))
    assert block.conv1.stride == (2, 2) and block.conv1.padding == (1, 1)
    assert block.conv2.stride == (1, 1) and block.conv2.padding == (1, 1)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        out = block(x)
        act = F.relu(x)
        hidden = F.conv2d(act, block.conv1.weight, stride=2, padding=1)
        expected = F.conv2d(F.relu(hidden), block.conv2.weight, padding=1)
        expected = expected + F.conv2d(act, block.shortcut.weight, stride=2)
    assert out.shape == (2, 5, 4, 4)
    assert torch.allclose(out, expected, atol=1e-5)


def test_shortcut_is_applied_to_preactivated_input(bn_identity):
    torch.manual_seed(0)
    block = bn_identity(PreActBasicBlock(3, 6, stride=2))
    identity_block = bn_identity(PreActBasicBlock(6, 6, stride=1))
    assert identity_block.shortcut is None
    x, y = torch.randn(2, 3, 8, 8), torch.randn(2, 6, 5, 5)
    with torch.no_grad():
        # bn2 zeroes the residual branch, bn1 is the identity
        for b in (block, identity_block):
            b.bn2.weight.zero_()
            b.bn2.bias.zero_()
        out = block(x)
        pre = F.conv2d(F.relu(x), block.shortcut.weight, stride=2)
        raw = F.conv2d(x, block.shortcut.weight, stride=2)
        assert torch.allclose(out, pre, atol=1e-6)
        assert not torch.allclose(out, raw, atol=1e-2)
        # same shape: identity on the raw input (negative values survive)
        assert torch.equal(identity_block(y), y)


def test_no_final_norm():
    torch.manual_seed(0)
    model = PreActResNet(width=1, stem_stride=2).eval()
    captured = {}
    model.layer4.register_forward_hook(
        lambda m, i, o: captured.setdefault('layer4', o.clone()))
    with torch.no_grad():
        (out, ) = model(torch.randn(1, 3, 32, 32))
    assert out.shape == (1, 512, 2, 2)
    assert torch.equal(out, captured['layer4'])
    assert out.min() < 0  # not post ReLU
