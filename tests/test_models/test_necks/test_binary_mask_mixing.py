"""Tests of the owner/complement logic shared by the binary-mask blocks."""
import pytest
import torch

from mmmixmo.models.necks import (BinaryMaskMixing, ConcatMixing,
                                  CowMixMixing, CutMixing, FMixMixing,
                                  PatchUpMixing)
from mmmixmo.models.necks.binary_mask_mixing import (check_positive,
                                                     complement_masks,
                                                     top_area_masks)
from tests.utils.mixing import is_binary, record_draws

CPU = torch.device('cpu')


class HalfMixing(BinaryMaskMixing):
    """Owner keeps the left half; records the autocast state and inputs."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = []

    def owner_masks(self, area, height, width):
        self.calls.append((area.clone(), height, width,
                           torch.is_autocast_enabled('cpu')))
        mask = torch.zeros(area.shape[0], height, width)
        mask[:, :, :width // 2] = 1
        return mask


def test_base_is_abstract():
    with pytest.raises(TypeError):
        BinaryMaskMixing(num_members=2)


@pytest.mark.parametrize(
    'cls', [CutMixing, FMixMixing, CowMixMixing, PatchUpMixing, ConcatMixing])
def test_blocks_share_the_base(cls):
    mixing = cls(num_members=3, alpha=1.5)
    assert isinstance(mixing, BinaryMaskMixing)
    assert (mixing.num_members, mixing.alpha) == (3, 1.5)


def test_complement_masks_by_hand():
    owner_mask = torch.tensor([[[1., 0.], [0., 0.]]])
    kappa = torch.tensor([[0.2, 0.5, 0.3]])
    before = kappa.clone()
    masks = complement_masks(owner_mask, kappa, owner=1)
    # others: 0.2 / 0.5 = 0.4 and 0.3 / 0.5 = 0.6 outside the owner's cell
    expected = torch.tensor([[[[0., .4], [.4, .4]], [[1., 0.], [0., 0.]],
                              [[0., .6], [.6, .6]]]])
    torch.testing.assert_close(masks, expected)
    assert torch.equal(kappa, before)  # input untouched


def test_complement_masks_even_split_when_others_underflow():
    owner_mask = torch.zeros(1, 2, 2)
    masks = complement_masks(owner_mask, torch.tensor([[0., 1., 0.]]), 1)
    assert torch.equal(masks[0, 0], torch.full((2, 2), 0.5))
    assert torch.equal(masks[0, 1], torch.zeros(2, 2))
    assert torch.equal(masks[0, 2], torch.full((2, 2), 0.5))


def test_top_area_masks_by_hand():
    scores = torch.tensor([[[0.1, 0.9, 0.5], [0.3, 0.7, 0.2]]] * 3)
    # round(0.5 * 6) = 3: the cells scored 0.9, 0.7, 0.5
    masks = top_area_masks(scores, torch.tensor([0.5, 0.0, 0.42]))
    assert torch.equal(masks[0], torch.tensor([[0., 1., 1.], [0., 1., 0.]]))
    assert torch.equal(masks[1], torch.zeros(2, 3))
    # 0.42 * 6 = 2.52 -> 3 cells
    assert torch.equal(masks[2], masks[0])
    assert masks.dtype == torch.float32


def test_top_area_masks_exact_with_ties():
    scores = torch.zeros(4, 5, 5)  # all tied
    area = torch.tensor([0.0, 0.2, 0.61, 1.0])
    masks = top_area_masks(scores, area)
    assert masks.sum((1, 2)).tolist() == [0., 5., 15., 25.]
    assert bool(((masks == 0) | (masks == 1)).all())


def test_sample_masks_uses_owner_masks(monkeypatch):
    mixing = HalfMixing(num_members=3)
    monkeypatch.setattr(mixing, 'sample_kappa',
                        lambda b, d: torch.tensor([[0.6, 0.3, 0.1]] * b))
    monkeypatch.setattr(mixing, 'sample_owner', lambda: 2)
    masks = mixing.sample_masks(2, 2, 4, CPU)
    area, height, width, _ = mixing.calls[-1]
    assert torch.equal(area, torch.tensor([0.1, 0.1]))  # kappa of the owner
    assert (height, width) == (2, 4)
    assert torch.equal(masks[:, 2, :, :2], torch.ones(2, 2, 2))
    assert torch.equal(masks[:, 2, :, 2:], torch.zeros(2, 2, 2))
    torch.testing.assert_close(masks[:, 0, :, 2:], torch.full((2, 2, 2),
                                                              2 / 3))
    torch.testing.assert_close(masks[:, 1, :, 2:], torch.full((2, 2, 2),
                                                              1 / 3))
    assert torch.equal(masks[:, :2, :, :2], torch.zeros(2, 2, 2, 2))


def test_masks_drawn_without_autocast():
    mixing = HalfMixing(num_members=2).train()
    feats = [torch.randn(2, 3, 4, 4).bfloat16() for _ in range(2)]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert torch.is_autocast_enabled('cpu')
        out = mixing(feats)
    assert mixing.calls[-1][3] is False
    assert out.masks.dtype == torch.float32
    assert out.features.dtype == torch.bfloat16


@pytest.mark.parametrize('bad', [0, -1., float('inf'), float('nan'), True,
                                 None, '3'])
def test_check_positive_names_the_key(bad):
    with pytest.raises(ValueError, match=r'model\.mixing\.some_key must be'):
        check_positive(bad, 'some_key')
    assert check_positive(3, 'some_key') == 3.0


# Behaviour every binary-mask block shares, tested once for all of them.
BLOCKS = [CutMixing, FMixMixing, CowMixMixing, PatchUpMixing, ConcatMixing]


@pytest.mark.parametrize('cls', [FMixMixing, CowMixMixing])
def test_thresholded_noise_has_the_exact_area_by_hand(cls):
    """FMix and CowMix threshold noise at a quantile: exact pixel counts."""
    torch.manual_seed(0)
    mixing = cls()
    area = torch.tensor([0.0, 0.3, 0.5, 0.77, 1.0])
    masks = mixing.owner_masks(area, 32, 32)
    assert masks.shape == (5, 32, 32) and masks.dtype == torch.float32
    assert is_binary(masks)
    # round(307.2) = 307, round(788.48) = 788
    assert masks.sum((1, 2)).tolist() == [0., 307., 512., 788., 1024.]
    # non-square grid: 0.3 * 60 = 18, 0.77 * 60 = 46.2 -> 46
    masks = mixing.owner_masks(area, 6, 10)
    assert masks.sum((1, 2)).tolist() == [0., 18., 30., 46., 60.]


@pytest.mark.parametrize('cls', BLOCKS)
def test_three_members_owner_and_complement(cls, monkeypatch):
    torch.manual_seed(0)
    mixing = cls(num_members=3).train()
    rec = record_draws(monkeypatch, mixing)
    owners = set()
    for _ in range(20):
        feats = [torch.randn(8, 2, 8, 8) for _ in range(3)]
        out = mixing(feats)
        owner, kappa = rec['owner'], rec['kappa']
        owners.add(owner)
        box = out.masks[:, owner]
        assert is_binary(box)
        torch.testing.assert_close(out.masks.sum(1), torch.ones(8, 8, 8))
        for j in range(3):
            if j != owner:
                share = kappa[:, j] / (1 - kappa[:, owner])
                torch.testing.assert_close(
                    out.masks[:, j], (1 - box) * share.view(8, 1, 1))
        torch.testing.assert_close(out.kappa, out.masks.mean((2, 3)))
        expected = 3 * sum(out.masks[:, i:i + 1] * feats[i] for i in range(3))
        torch.testing.assert_close(out.features, expected)
    assert owners == {0, 1, 2}


@pytest.mark.parametrize('cls', BLOCKS)
def test_eval_is_plain_sum(cls):
    feats = [torch.randn(2, 3, 8, 8) for _ in range(3)]
    out = cls(num_members=3).eval()(feats)
    assert torch.equal(out.features, feats[0] + feats[1] + feats[2])
    assert torch.equal(out.masks, torch.full((2, 3, 1, 1), 1 / 3))
    assert torch.equal(out.kappa, torch.full((2, 3), 1 / 3))


@pytest.mark.parametrize('cls', BLOCKS)
def test_bf16_autocast(cls):
    torch.manual_seed(0)
    l0, l1 = (torch.randn(4, 3, 16, 16).bfloat16() for _ in range(2))
    mixing = cls().train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = mixing([l0, l1])
    assert out.features.dtype == torch.bfloat16
    assert out.masks.dtype == out.kappa.dtype == torch.float32
    assert is_binary(out.masks)
    m = out.masks[:, 0:1].bfloat16()
    assert torch.equal(out.features, 2 * (m * l0 + (1 - m) * l1))
