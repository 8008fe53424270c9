import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import (BinaryMaskMixing, CutMixing,
                                  CutOrLinearMixing, FMixMixing, LinearMixing)


def _feats(num_members=2, batch_size=4, size=8):
    return [torch.randn(batch_size, 2, size, size) for _ in range(num_members)]


def _count_cut(mixing, steps, num_members=2):
    cuts = 0
    for _ in range(steps):
        out = mixing(_feats(num_members))
        if out.masks.shape[-2:] == (8, 8):
            cuts += 1
        else:
            assert out.masks.shape == (4, num_members, 1, 1)
        torch.testing.assert_close(out.kappa, out.masks.mean((2, 3)))
        torch.testing.assert_close(
            out.masks.sum(1), torch.ones_like(out.masks[:, 0]))
    return cuts


def test_registered_and_children():
    mixing = MODELS.build(
        dict(type='CutOrLinearMixing', num_members=3, alpha=1.5, prob=0.25))
    assert isinstance(mixing, CutOrLinearMixing)
    assert isinstance(mixing.cut, CutMixing)
    assert isinstance(mixing.linear, LinearMixing)
    assert mixing.cut.num_members == mixing.linear.num_members == 3
    assert mixing.cut.alpha == mixing.linear.alpha == 1.5
    assert mixing.prob == 0.25
    assert mixing.prob_factor == 1.0
    assert mixing.effective_prob == 0.25
    mixing.prob_factor = 0.5
    assert mixing.effective_prob == 0.125


@pytest.mark.parametrize('num_members', [2, 3])
def test_prob_one_always_cut(num_members):
    torch.manual_seed(0)
    mixing = CutOrLinearMixing(num_members=num_members, prob=1.0).train()
    assert _count_cut(mixing, 30, num_members) == 30


@pytest.mark.parametrize('num_members', [2, 3])
def test_prob_zero_always_linear(num_members):
    torch.manual_seed(0)
    mixing = CutOrLinearMixing(num_members=num_members, prob=0.0).train()
    assert _count_cut(mixing, 30, num_members) == 0


def test_prob_factor_zero_always_linear():
    torch.manual_seed(0)
    mixing = CutOrLinearMixing(prob=1.0).train()
    mixing.prob_factor = 0.0
    assert mixing.effective_prob == 0.0
    assert _count_cut(mixing, 30) == 0


def test_frequency_follows_effective_prob():
    torch.manual_seed(0)
    mixing = CutOrLinearMixing(prob=0.5).train()
    cuts = _count_cut(mixing, 400)
    assert 160 <= cuts <= 240  # binomial(400, 0.5): +- 4 sigma
    mixing.prob_factor = 0.4  # p = 0.2
    cuts = _count_cut(mixing, 400)
    assert 48 <= cuts <= 112  # binomial(400, 0.2): +- 4 sigma


def test_choice_once_per_batch():
    """All samples of a batch get the same kind of mask."""
    torch.manual_seed(0)
    mixing = CutOrLinearMixing(prob=0.5).train()
    for _ in range(20):
        out = mixing(_feats(batch_size=16))
        if out.masks.shape[-1] == 8:
            # cut for every sample: binary masks
            assert ((out.masks == 0) | (out.masks == 1)).all()
        else:
            assert out.masks.shape == (16, 2, 1, 1)


def test_train_formula_and_eval():
    torch.manual_seed(0)
    mixing = CutOrLinearMixing(prob=0.5).train()
    l0, l1 = _feats()
    for _ in range(6):
        out = mixing([l0, l1])
        m = out.masks[:, 0:1]
        torch.testing.assert_close(out.features, 2 * (m * l0 + (1 - m) * l1))
    mixing.eval()
    out = mixing([l0, l1])
    assert torch.equal(out.features, l0 + l1)
    assert torch.equal(out.kappa, torch.full((4, 2), 0.5))


@pytest.mark.parametrize('prob', [1.5, -0.1, float('nan'), None])
def test_prob_error(prob):
    with pytest.raises(ValueError, match=r'model\.mixing\.prob must be in'):
        CutOrLinearMixing(prob=prob)


def test_alpha_and_members_errors():
    with pytest.raises(ValueError, match='model.mixing.alpha'):
        CutOrLinearMixing(alpha=0)
    with pytest.raises(ValueError, match='model.mixing.num_members'):
        CutOrLinearMixing(num_members=1)


@pytest.mark.parametrize('binary_type', [
    'FMixMixing', 'CowMixMixing', 'PatchUpMixing', 'ConcatMixing',
    'CutMixing'
])
def test_binary_block_from_config(binary_type):
    mixing = MODELS.build(
        dict(
            type='CutOrLinearMixing',
            num_members=3,
            alpha=1.5,
            prob=1.0,
            binary=dict(type=binary_type)))
    assert type(mixing.cut).__name__ == binary_type
    assert isinstance(mixing.cut, BinaryMaskMixing)
    assert mixing.cut.num_members == mixing.linear.num_members == 3
    assert mixing.cut.alpha == mixing.linear.alpha == 1.5
    torch.manual_seed(0)
    cut = _count_cut(mixing.train(), 6, num_members=3)
    assert cut == 6  # prob = 1: always the binary block
    mixing.prob_factor = 0.0
    assert _count_cut(mixing, 6, num_members=3) == 0


def test_binary_block_options_and_fallback():
    torch.manual_seed(0)
    mixing = CutOrLinearMixing(
        prob=0.5, binary=dict(type='FMixMixing', decay_power=2.0)).train()
    assert isinstance(mixing.cut, FMixMixing)
    assert mixing.cut.decay_power == 2.0
    cuts = _count_cut(mixing, 100)
    assert 30 <= cuts <= 70  # binomial(100, 0.5): +- 4 sigma
    # the FMix masks of the binary draws have an exact area
    mixing.prob_factor = 2.0  # p = 1
    out = mixing(_feats(batch_size=16))
    area = out.masks[:, 0].sum((1, 2))
    assert torch.equal(area, area.round())
    assert ((out.masks == 0) | (out.masks == 1)).all()


def test_binary_block_errors():
    with pytest.raises(ValueError, match=r'model\.mixing\.binary must be'):
        CutOrLinearMixing(binary='FMixMixing')
    with pytest.raises(ValueError, match=r'model\.mixing\.binary must be'):
        CutOrLinearMixing(binary=dict(decay_power=3))
    with pytest.raises(ValueError,
                       match=r'model\.mixing\.binary\.num_members \(3\)'):
        CutOrLinearMixing(binary=dict(type='FMixMixing', num_members=3))
    with pytest.raises(ValueError, match=r'model\.mixing\.binary\.alpha'):
        CutOrLinearMixing(alpha=2.0, binary=dict(type='CutMixing', alpha=1))
    # the binary block's own errors name the nested key
    with pytest.raises(ValueError,
                       match=r'model\.mixing\.binary\.decay_power must be'):
        CutOrLinearMixing(binary=dict(type='FMixMixing', decay_power=-1))
    with pytest.raises(ValueError, match=r'model\.mixing\.binary must build'):
        CutOrLinearMixing(binary=dict(type='LinearMixing'))
    with pytest.raises(ValueError, match=r'model\.mixing\.alpha'):
        CutOrLinearMixing(alpha=0, binary=dict(type='FMixMixing'))
