import pytest
import torch

from mmmixmo.models.utils import member_loss_weights, member_soft_targets


def own_ratio(pixel_masks, feature_masks):
    """The own-label share r of targets ``[r, 1 - r, 0]`` (own 0, mix 1)."""
    batch_size, num_members = pixel_masks.shape[:2]
    gt = torch.zeros(batch_size, num_members, dtype=torch.long)
    targets = member_soft_targets(gt, gt + 1, pixel_masks, feature_masks, 3)
    assert targets.dtype == torch.float32
    torch.testing.assert_close(targets[..., 1], 1 - targets[..., 0])
    assert (targets[..., 2] == 0).all()
    return targets[..., 0]


def test_ratio_of_the_visible_pixels_by_hand():
    # 4x4 pixels, label 1 pasted on the top-left 2x2 quarter (own share 3/4)
    quarter = torch.ones(4, 4)
    quarter[:2, :2] = 0
    # or on the top half (own share 1/2)
    half = torch.ones(4, 4)
    half[:2] = 0
    pixel = torch.stack([torch.ones(4, 4), quarter, quarter, half, quarter])
    # feature masks on a 2x2 grid (nearest to 4x4)
    feature = torch.tensor([
        [[0.3, 0.7], [0.2, 0.9]],  # no pixel mix: 1
        [[0., 0.], [1., 1.]],  # only the bottom half visible: all own, 1
        [[1., 1.], [1., 0.]],  # 12 visible pixels, 8 own: 2/3
        [[1., 1.], [0., 0.]],  # only the pasted half visible: 0 -> 0.5
        [[0., 0.], [0., 0.]],  # hidden: the plain pixel share 3/4
    ])
    ratio = own_ratio(pixel.unsqueeze(1), feature.unsqueeze(1))
    torch.testing.assert_close(
        ratio, torch.tensor([1., 1., 2 / 3, 0.5, 0.75]).view(5, 1))


def test_ratio_with_constant_masks():
    # linear feature mixing: the plain pixel share 3/4
    quarter = torch.ones(1, 1, 4, 4)
    quarter[..., :2, :2] = 0
    ratio = own_ratio(quarter, torch.full((1, 1, 1, 1), 0.3))
    torch.testing.assert_close(ratio, torch.tensor([[0.75]]))
    # pixel mixup (constant own share 0.8, or 0.2 floored at 0.5)
    pixel = torch.tensor([0.8, 0.2]).view(1, 2, 1, 1)
    feature = torch.rand(1, 2, 8, 8)
    ratio = own_ratio(pixel, feature)
    torch.testing.assert_close(ratio, torch.tensor([[0.8, 0.5]]))


def test_loss_weights_by_hand():
    kappa = torch.tensor([[0.2, 0.8], [0.5, 0.5]], requires_grad=True)
    weights = member_loss_weights(kappa, r=3)
    a, b = 0.2**(1 / 3), 0.8**(1 / 3)
    torch.testing.assert_close(
        weights, torch.tensor([[2 * a / (a + b), 2 * b / (a + b)], [1., 1.]]))
    assert weights[0, 0].item() == pytest.approx(0.77298, abs=1e-5)
    assert not weights.requires_grad  # constants of the loss
    # r = 1 with M = 3: w = 3 kappa
    kappa = torch.tensor([[0.1, 0.3, 0.6]])
    torch.testing.assert_close(member_loss_weights(kappa, r=1), 3 * kappa)
