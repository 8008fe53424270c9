import pytest
import torch

from mmmixmo.models.necks import PatchUpMixing
from tests.utils.mixing import is_binary


def test_patches_by_hand(monkeypatch):
    """10x10 grid, 4x4 patches: a 3x3 patch grid cropped at the borders."""
    draws = torch.tensor([[[0.1, 0.5, 0.9], [0.35, 0.2, 0.7],
                           [0.0, 0.31, 0.29]]])
    monkeypatch.setattr(torch, 'rand', lambda *size, **kwargs: draws)
    mask = PatchUpMixing(patch_size=4).owner_masks(
        torch.tensor([0.3]), 10, 10)
    # owned patches (draw < 0.3): (0, 0), (1, 1), (2, 0), (2, 2)
    expected = torch.zeros(1, 10, 10)
    expected[0, 0:4, 0:4] = 1
    expected[0, 4:8, 4:8] = 1
    expected[0, 8:10, 0:4] = 1
    expected[0, 8:10, 8:10] = 1
    assert torch.equal(mask, expected)


def test_masks_are_constant_on_patches():
    masks = PatchUpMixing(patch_size=(2, 8)).owner_masks(
        torch.rand(50), 32, 32)
    assert masks.shape == (50, 32, 32) and masks.dtype == torch.float32
    assert is_binary(masks)
    blocks = masks.view(50, 16, 2, 4, 8)
    assert torch.equal(blocks, blocks[:, :, :1, :, :1].expand_as(blocks))
    edge = PatchUpMixing().owner_masks(torch.tensor([0., 1.]), 32, 32)
    assert torch.equal(edge, torch.stack([torch.zeros(32, 32),
                                          torch.ones(32, 32)]))


def test_area_statistics():
    """Each of the 64 patches is owned with probability 0.3."""
    area = PatchUpMixing(patch_size=4).owner_masks(
        torch.full((4000, ), 0.3), 32, 32).mean((1, 2))
    # mean 0.3 (standard error 0.0009), variance 0.3 * 0.7 / 64
    assert area.mean().item() == pytest.approx(0.3, abs=0.005)
    assert area.var().item() == pytest.approx(0.21 / 64, rel=0.1)
    # a whole number of 4x4 patches
    assert torch.equal(area * 64, (area * 64).round())


@pytest.mark.parametrize('patch_size', [0, (4, 0)])
def test_patch_size_error_names_the_key(patch_size):
    with pytest.raises(ValueError, match='model.mixing.patch_size'):
        PatchUpMixing(patch_size=patch_size)
