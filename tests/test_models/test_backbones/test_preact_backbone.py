"""What WideResNet and PreActResNet share through PreActBackbone."""
import math

import pytest
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import nn

from mmmixmo.models.backbones import WideResNet

TINY = {
    'WideResNet': (dict(depth=10, widen_factor=1), 64),
    'PreActResNet': (dict(width=1, base_channels=8), 64),
}


def tiny(name: str, **kwargs) -> nn.Module:
    return MODELS.build(dict(type=name, **TINY[name][0], **kwargs))


def test_out_indices():
    assert WideResNet(depth=10, widen_factor=1, out_indices=-1).out_indices \
        == (2, )
    model = tiny('PreActResNet', out_indices=(-1, 0)).eval()
    assert model.out_indices == (3, 0)
    # outputs in stage order whatever the order of out_indices
    outs = model(torch.randn(2, 3, 16, 16))
    assert [tuple(o.shape) for o in outs] == [(2, 8, 16, 16), (2, 64, 2, 2)]
    for name, bad in (('WideResNet', (3, )), ('WideResNet', ()),
                      ('PreActResNet', (-5, )), ('PreActResNet', (1.0, ))):
        with pytest.raises(ValueError, match='model.backbone.out_indices'):
            tiny(name, out_indices=bad)


@pytest.mark.parametrize('name', list(TINY))
def test_conv1_is_applied_first_and_only_once(name):
    torch.manual_seed(0)
    model = tiny(name)
    assert model.eval() is model and model.train() is model  # chaining
    model.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        (expected, ) = model(x)
        stem = model.conv1(x)
        model.conv1 = nn.Identity()
        (out, ) = model(stem)
    assert torch.allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize('name', list(TINY))
def test_default_init_is_authors_init(name):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(type=name, depth=10, widen_factor=2) if name ==
        'WideResNet' else dict(type=name, width=1))
    # layer-wise rules only: MixMoClassifier reuses them for its encoders
    assert [rule['layer'] for rule in model.init_cfg] == [
        'Conv2d', ['_BatchNorm']
    ]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(5.0)
                m.bias.fill_(5.0)
    model.init_weights()  # no default scope needed
    # 128 x 128 x 3 x 3 = 147456 weights
    w = (model.layer3[0].conv2
         if name == 'WideResNet' else model.layer2[1].conv1).weight
    std = math.sqrt(2.0 / (128 * 9))
    assert w.abs().max() <= 2 * std / 0.8796 + 1e-7
    assert w.std().item() == pytest.approx(std, rel=0.01)
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


@pytest.mark.parametrize('name', list(TINY))
def test_image_classifier_integration(name):
    torch.manual_seed(0)
    backbone, channels = TINY[name]
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=dict(type=name, **backbone),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=7,
                in_channels=channels,
                loss=dict(type='CrossEntropyLoss'))))
    model.init_weights()
    inputs = torch.randn(3, 3, 32, 32)
    samples = [DataSample().set_gt_label(i) for i in range(3)]
    losses = model(inputs, samples, mode='loss')
    assert set(losses) == {'loss'}
    assert torch.isfinite(losses['loss']) and losses['loss'].item() > 0
    losses['loss'].backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        preds = model(inputs, samples, mode='predict')
    assert len(preds) == 3
    for pred in preds:
        assert pred.pred_score.shape == (7, )
        assert pred.pred_score.sum().item() == pytest.approx(1.0, abs=1e-5)
