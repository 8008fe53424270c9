import pytest
import torch

from mmmixmo.models.utils import cutmix_box_masks


def _reference(area, cy, cx, height, width):
    """The CutMix rule written out with Python integers."""
    mask = torch.zeros(height, width)
    side_h = int(height * area**0.5)
    side_w = int(width * area**0.5)
    y1, y2 = max(cy - side_h // 2, 0), min(cy + side_h // 2, height)
    x1, x2 = max(cx - side_w // 2, 0), min(cx + side_w // 2, width)
    mask[y1:y2, x1:x2] = 1
    return mask


def test_matches_reference_rule():
    height, width = 12, 20
    area = torch.linspace(0, 1, 40)
    masks = cutmix_box_masks(
        area, height, width, generator=torch.Generator().manual_seed(3))
    assert masks.shape == (40, height, width)
    assert masks.dtype == torch.float32
    gen = torch.Generator().manual_seed(3)
    cy = torch.randint(0, height, (40, ), generator=gen)
    cx = torch.randint(0, width, (40, ), generator=gen)
    for i in range(40):
        expected = _reference(area[i].item(), int(cy[i]), int(cx[i]), height,
                              width)
        assert torch.equal(masks[i], expected), i


def test_corner_box_clipped_by_hand(monkeypatch):
    # requested area 0.25 on 32x32: side 16, span [c - 8, c + 8)
    centres = [torch.tensor([0, 31, 5]), torch.tensor([0, 31, 31])]
    real_randint = torch.randint

    def fake_randint(*args, **kwargs):
        if len(args) == 3 and args[1] == 32:
            return centres.pop(0)
        return real_randint(*args, **kwargs)

    monkeypatch.setattr(torch, 'randint', fake_randint)
    masks = cutmix_box_masks(torch.full((3, ), 0.25), 32, 32)
    expected = torch.zeros(3, 32, 32)
    expected[0, 0:8, 0:8] = 1  # top-left: clipped to 8x8
    expected[1, 23:32, 23:32] = 1  # bottom-right: clipped to 9x9
    expected[2, 0:13, 23:32] = 1  # right border: 13x9
    assert torch.equal(masks, expected)
    assert masks.sum((1, 2)).tolist() == [64., 81., 117.]


def test_extreme_areas():
    masks = cutmix_box_masks(torch.tensor([0.0, 1.0]), 8, 8)
    assert masks[0].sum() == 0
    # full side, centred anywhere: at least half of each side is covered
    assert 16 <= masks[1].sum() <= 64


def test_mean_area_beta_2_2():
    """Clipping shrinks the mean area of Beta(2, 2) boxes to about 0.31."""
    torch.manual_seed(0)
    area = torch.distributions.Beta(2., 2.).sample((20000, ))
    real = cutmix_box_masks(area, 32, 32).mean((1, 2))
    assert abs(real.mean().item() - 0.31) <= 0.01
    assert (real <= area + 1e-6).all()


def test_bad_shape():
    with pytest.raises(ValueError, match='shape'):
        cutmix_box_masks(torch.zeros(2, 2), 4, 4)
