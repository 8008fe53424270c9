import math

import pytest
import torch
from mmengine.model import BaseModule, initialize
from mmengine.registry import DefaultScope
from mmpretrain.registry import WEIGHT_INITIALIZERS
from torch import nn

from mmmixmo.models.utils.trunc_kaiming_init import (TRUNCATED_STD,
                                                     TruncKaimingInit,
                                                     trunc_kaiming_normal_)


def truncated_std_ratio(c: float = 2.0) -> float:
    """Std of a standard normal truncated at +-c (0.8796 for c = 2)."""
    pdf = math.exp(-c * c / 2) / math.sqrt(2 * math.pi)
    mass = math.erf(c / math.sqrt(2))
    return math.sqrt(1 - 2 * c * pdf / mass)


def check_trunc_kaiming(weight: torch.Tensor, fan_in: int) -> None:
    # >= 70k samples: the sample std is within 0.3 % (1 sigma) of the truth
    assert weight.numel() >= 70000
    std = math.sqrt(2.0 / fan_in)  # the target empirical std
    scale = std / truncated_std_ratio()  # std of the normal before truncation
    w = weight.detach().flatten()
    assert w.abs().max().item() <= 2 * scale + 1e-7
    # the truncation bound is reached: the values are not from a narrower law
    assert w.abs().max().item() > 1.9 * scale
    assert w.std().item() == pytest.approx(std, rel=0.01)
    assert abs(w.mean().item()) < 0.02 * std
    # shape of the law: P(|w| < scale) = erf(1/sqrt2) / erf(2/sqrt2) = 0.7153
    inner = (w.abs() < scale).float().mean().item()
    assert inner == pytest.approx(
        math.erf(1 / math.sqrt(2)) / math.erf(2 / math.sqrt(2)), abs=0.01)


def test_truncated_std_ratio_constant():
    assert truncated_std_ratio() == pytest.approx(TRUNCATED_STD, abs=1e-12)


def test_registered_in_mmpretrain_registry():
    assert WEIGHT_INITIALIZERS.get('TruncKaiming') is TruncKaimingInit
    assert WEIGHT_INITIALIZERS.get(
        'mmpretrain.TruncKaiming') is TruncKaimingInit


def test_conv_statistics_use_fan_in():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 128, 3, bias=True)  # fan_in 576, fan_out 1152
    TruncKaimingInit(layer='Conv2d')(conv)
    check_trunc_kaiming(conv.weight, fan_in=64 * 9)
    assert torch.all(conv.bias == 0)


def test_linear_uses_fan_in_not_fan_out():
    torch.manual_seed(0)
    fc = nn.Linear(1000, 80)  # fan_in 1000 -> std 0.0447; fan_out 0.183
    TruncKaimingInit(layer='Linear', bias=0.5)(fc)
    check_trunc_kaiming(fc.weight, fan_in=1000)
    assert torch.all(fc.bias == 0.5)


def test_grouped_conv_fan_in_is_per_group():
    torch.manual_seed(0)
    conv = nn.Conv2d(64, 1024, 3, groups=8, bias=False)  # fan_in 8 * 9
    trunc_kaiming_normal_(conv.weight.data)
    check_trunc_kaiming(conv.weight, fan_in=8 * 9)


def test_rejects_1d_weight_and_skips_meta_tensors():
    with pytest.raises(ValueError, match='at least 2 dimensions'):
        trunc_kaiming_normal_(torch.empty(5))
    meta = torch.empty(4, 3, device='meta')
    assert trunc_kaiming_normal_(meta) is meta


def test_layer_selection_leaves_other_layers_untouched():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 4))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(7.0)
    TruncKaimingInit(layer='Conv2d', bias=0)(model)
    assert model[0].weight.abs().max().item() <= 2 * math.sqrt(
        2 / 27) / TRUNCATED_STD
    assert torch.all(model[0].bias == 0)
    for p in list(model[1].parameters()) + list(model[2].parameters()):
        assert torch.all(p == 7.0)


def test_init_cfg_and_override_mechanics():

    class Net(BaseModule):

        def __init__(self, init_cfg):
            super().__init__(init_cfg)
            self.conv = nn.Conv2d(64, 128, 3)
            self.fc = nn.Linear(400, 10)

    torch.manual_seed(0)
    net = Net(
        init_cfg=dict(
            type='mmpretrain.TruncKaiming',
            layer='Conv2d',
            bias=0.25,
            override=dict(name='fc', type='mmpretrain.TruncKaiming', bias=-1)))
    net.init_weights()
    check_trunc_kaiming(net.conv.weight, fan_in=64 * 9)
    assert torch.all(net.conv.bias == 0.25)
    # override without `layer` initialises the whole named module
    assert net.fc.weight.abs().max().item() <= 2 * math.sqrt(
        2 / 400) / TRUNCATED_STD
    assert torch.all(net.fc.bias == -1)

    # `initialize` (mmengine's entry point) with the plain registered name
    # under mmpretrain's default scope
    conv = nn.Conv2d(16, 32, 3)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        initialize(conv, dict(type='TruncKaiming', layer='Conv2d', bias=3))
    assert torch.all(conv.bias == 3)
    assert conv.weight.abs().max().item() <= 2 * math.sqrt(
        2 / 144) / TRUNCATED_STD
