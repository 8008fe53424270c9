"""Tests of the behaviour shared by every mixing block (BaseMixing)."""
import pytest
import torch

from mmmixmo.models.necks import (BaseMixing, CutMixing, CutOrLinearMixing,
                                  LinearMixing, MixingOutput)


class FixedMixing(BaseMixing):
    """Mixing block with fixed masks, to check the formulas by hand."""

    def __init__(self, masks, **kwargs):
        super().__init__(num_members=masks.shape[1], **kwargs)
        self.fixed = masks

    def sample_masks(self, batch_size, height, width, device):
        return self.fixed.to(device)


def _members(num_members=2, batch_size=2, channels=3, size=4):
    numel = batch_size * channels * size * size
    return [
        torch.arange(numel, dtype=torch.float32).view(
            batch_size, channels, size, size) * (i + 1) - 7 * i
        for i in range(num_members)
    ]


def test_base_mixing_is_abstract():
    with pytest.raises(TypeError):
        BaseMixing(num_members=2)


def test_training_formula_by_hand():
    # Member 0 keeps the top half of sample 0 and 0.25 of sample 1.
    masks = torch.zeros(2, 2, 2, 2)
    masks[0, 0, 0] = 1
    masks[1, 0] = 0.25
    masks[:, 1] = 1 - masks[:, 0]
    l0 = torch.full((2, 1, 2, 2), 4.)
    l1 = torch.full((2, 1, 2, 2), 8.)
    mixing = FixedMixing(masks).train()
    out = mixing([l0, l1])
    assert isinstance(out, MixingOutput)
    expected = torch.tensor([[[[8., 8.], [16., 16.]]],
                             [[[14., 14.], [14., 14.]]]])
    assert torch.equal(out.features, expected)
    assert torch.equal(out.masks, masks)
    assert torch.equal(out.kappa, torch.tensor([[0.5, 0.5], [0.25, 0.75]]))


def test_training_formula_three_members():
    masks = torch.tensor([0.5, 0.25, 0.25]).view(1, 3, 1, 1)
    feats = [torch.full((1, 2, 3, 3), v) for v in (1., 2., 6.)]
    out = FixedMixing(masks).train()(feats)
    # 3 * (0.5 * 1 + 0.25 * 2 + 0.25 * 6) = 7.5
    assert torch.equal(out.features, torch.full((1, 2, 3, 3), 7.5))
    assert torch.equal(out.kappa, torch.tensor([[0.5, 0.25, 0.25]]))


@pytest.mark.parametrize('mixing', [
    LinearMixing(num_members=2),
    LinearMixing(num_members=2, alpha=None),
    CutMixing(num_members=2),
    CutOrLinearMixing(num_members=2),
])
def test_train_mix_is_two_times_convex_combination(mixing):
    torch.manual_seed(0)
    l0, l1 = _members()
    mixing.train()
    for _ in range(4):
        out = mixing([l0, l1])
        m = out.masks[:, 0:1]
        torch.testing.assert_close(out.features, 2 * (m * l0 + (1 - m) * l1))
        torch.testing.assert_close(out.masks[:, 1:2], 1 - m)
        torch.testing.assert_close(out.kappa, out.masks.mean((2, 3)))
        assert out.masks.dtype == torch.float32
        assert out.kappa.dtype == torch.float32


@pytest.mark.parametrize('num_members', [2, 3])
@pytest.mark.parametrize('cls', [LinearMixing, CutMixing, CutOrLinearMixing])
def test_eval_is_plain_sum(cls, num_members):
    feats = _members(num_members)
    mixing = cls(num_members=num_members).eval()
    out = mixing(feats)
    expected = feats[0] + feats[1]
    if num_members == 3:
        expected = expected + feats[2]
    assert torch.equal(out.features, expected)
    assert out.masks.shape == (2, num_members, 1, 1)
    assert out.masks.dtype == torch.float32
    assert torch.equal(out.masks,
                       torch.full((2, num_members, 1, 1), 1 / num_members))
    assert torch.equal(out.kappa, torch.full((2, num_members),
                                             1 / num_members))


@pytest.mark.parametrize('cls', [LinearMixing, CutMixing, CutOrLinearMixing])
def test_bf16_autocast(cls):
    torch.manual_seed(0)
    l0, l1 = (f.bfloat16() for f in _members())
    mixing = cls(num_members=2).train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = mixing([l0, l1])
    assert out.features.dtype == torch.bfloat16
    assert out.masks.dtype == torch.float32
    assert out.kappa.dtype == torch.float32
    m = out.masks[:, 0:1].bfloat16()
    expected = 2 * (m * l0 + (1 - m) * l1)
    torch.testing.assert_close(
        out.features.float(), expected.float(), rtol=2e-2, atol=1e-1)
    # eval in bf16 too
    mixing.eval()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = mixing([l0, l1])
    assert out.features.dtype == torch.bfloat16
    assert torch.equal(out.features, l0 + l1)


@pytest.mark.parametrize('bad', [1, 0, -2, 2.0, True, None])
@pytest.mark.parametrize('cls', [LinearMixing, CutMixing, CutOrLinearMixing])
def test_num_members_error(cls, bad):
    with pytest.raises(ValueError, match='model.mixing.num_members'):
        cls(num_members=bad)


@pytest.mark.parametrize('cls', [LinearMixing, CutMixing, CutOrLinearMixing])
@pytest.mark.parametrize('training', [True, False])
def test_wrong_number_of_features(cls, training):
    mixing = cls(num_members=3).train(training)
    with pytest.raises(ValueError, match=r'model\.mixing\.num_members is 3'):
        mixing(_members(2))
    with pytest.raises(ValueError, match='model.mixing.num_members'):
        mixing(_members(4))


def test_feature_shape_errors():
    mixing = LinearMixing(num_members=2)
    with pytest.raises(ValueError, match='same shape'):
        mixing([torch.zeros(2, 3, 4, 4), torch.zeros(2, 3, 4, 5)])
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        mixing([torch.zeros(2, 3, 4), torch.zeros(2, 3, 4)])
