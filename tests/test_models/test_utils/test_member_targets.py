import pytest
import torch

from mmmixmo.models.utils import member_soft_targets, visible_own_ratio


def test_ratio_without_pixel_mix_is_one():
    pixel = torch.ones(3, 2, 1, 1)
    masks = torch.rand(3, 2, 4, 4)
    assert torch.allclose(visible_own_ratio(pixel, masks), torch.ones(3, 2))


def test_ratio_counts_only_visible_pixels():
    # 4x4 input; the partner box covers the top-left 2x2 quarter
    pixel = torch.ones(1, 1, 4, 4)
    pixel[0, 0, :2, :2] = 0
    # feature mask on a 2x2 grid: the member keeps the top row only
    feature = torch.tensor([[[[1., 1.], [0., 0.]]]])
    # visible pixels: top half (8), own among them: 4 -> 0.5
    assert visible_own_ratio(pixel, feature).item() == pytest.approx(0.5)
    # linear feature mixing: the plain pixel share 12/16
    linear = torch.full((1, 1, 1, 1), 0.3)
    assert visible_own_ratio(pixel, linear).item() == pytest.approx(0.75)


def test_soft_targets_floor_at_half():
    gt = torch.tensor([[0, 1]])
    mix = torch.tensor([[2, 2]])
    pixel = torch.tensor([0.2, 0.9]).view(1, 2, 1, 1)
    feature = torch.full((1, 2, 1, 1), 0.5)
    t = member_soft_targets(gt, mix, pixel, feature, num_classes=3)
    # own share 0.2 is raised to 0.5; 0.9 is kept
    assert torch.allclose(t[0, 0], torch.tensor([0.5, 0.0, 0.5]))
    assert torch.allclose(t[0, 1], torch.tensor([0.0, 0.9, 0.1]))
    assert torch.allclose(t.sum(-1), torch.ones(1, 2))
