import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import PatchUpMixing
from tests.utils.mixing import record_draws, is_binary


def test_registered():
    mixing = MODELS.build(
        dict(type='PatchUpMixing', num_members=3, alpha=1.5, patch_size=8))
    assert isinstance(mixing, PatchUpMixing)
    assert (mixing.num_members, mixing.alpha) == (3, 1.5)
    assert mixing.patch_size == (8, 8)
    assert PatchUpMixing().patch_size == (4, 4)
    assert PatchUpMixing(patch_size=[2, 8]).patch_size == (2, 8)


def test_patches_by_hand(monkeypatch):
    """10x10 grid, 4x4 patches: a 3x3 patch grid cropped at the borders."""
    draws = torch.tensor([[[0.1, 0.5, 0.9], [0.35, 0.2, 0.7],
                           [0.0, 0.31, 0.29]]])
    real_rand = torch.rand

    def fake_rand(*size, **kwargs):
        if size == (1, 3, 3):
            return draws.clone()
        return real_rand(*size, **kwargs)

    monkeypatch.setattr(torch, 'rand', fake_rand)
    mask = PatchUpMixing(patch_size=4).owner_masks(
        torch.tensor([0.3]), 10, 10)
    # owned patches (draw < 0.3): (0, 0), (1, 1), (2, 0), (2, 2)
    expected = torch.zeros(1, 10, 10)
    expected[0, 0:4, 0:4] = 1
    expected[0, 4:8, 4:8] = 1
    expected[0, 8:10, 0:4] = 1
    expected[0, 8:10, 8:10] = 1
    assert torch.equal(mask, expected)
    assert mask.mean().item() == pytest.approx(0.44)  # (16+16+8+4) / 100


def test_masks_are_constant_on_patches():
    torch.manual_seed(0)
    masks = PatchUpMixing(patch_size=(2, 8)).owner_masks(
        torch.rand(50), 32, 32)
    assert masks.shape == (50, 32, 32) and masks.dtype == torch.float32
    assert is_binary(masks)
    blocks = masks.view(50, 16, 2, 4, 8)
    assert torch.equal(blocks, blocks[:, :, :1, :, :1].expand_as(blocks))
    # kappa 0 and 1 give the empty and the full mask
    edge = PatchUpMixing().owner_masks(torch.tensor([0., 1.]), 32, 32)
    assert torch.equal(edge[0], torch.zeros(32, 32))
    assert torch.equal(edge[1], torch.ones(32, 32))


def test_area_statistics():
    """Each of the 64 patches is owned with probability 0.3."""
    torch.manual_seed(0)
    masks = PatchUpMixing(patch_size=4).owner_masks(
        torch.full((4000, ), 0.3), 32, 32)
    area = masks.mean((1, 2))
    # mean 0.3 (standard error 0.0009), variance 0.3 * 0.7 / 64 = 0.00328
    assert area.mean().item() == pytest.approx(0.3, abs=0.005)
    assert area.var().item() == pytest.approx(0.21 / 64, rel=0.1)
    # the area is a multiple of one patch, 16 / 1024
    patches = area * 64
    assert torch.equal(patches, patches.round())


def test_effective_kappa_in_expectation(monkeypatch):
    torch.manual_seed(0)
    mixing = PatchUpMixing(num_members=2).train()
    rec = record_draws(monkeypatch, mixing)
    requested, effective, owners = [], [], set()
    for _ in range(8):
        out = mixing([torch.zeros(128, 1, 32, 32)] * 2)
        owner = rec['owner']
        owners.add(owner)
        assert is_binary(out.masks[:, owner])
        assert torch.equal(out.masks[:, 1 - owner], 1 - out.masks[:, owner])
        torch.testing.assert_close(out.kappa, out.masks.mean((2, 3)))
        requested.append(rec['kappa'][:, owner])
        effective.append(out.kappa[:, owner])
    assert owners == {0, 1}
    requested, effective = torch.cat(requested), torch.cat(effective)
    # E[effective | requested] = requested: the difference has standard
    # deviation sqrt(E[k (1 - k)] / 64) = 0.056, standard error 0.0017
    diff = (effective - requested).mean().item()
    assert abs(diff) < 0.008, diff
    # no clipping bias (CutMix's owner keeps only about 0.31 of Beta(2, 2)):
    # mean 0.5, standard error 0.007
    assert effective.mean().item() == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize('bad', [0, -2, 2.5, True, None, (1, 2, 3), (4, 0)])
def test_patch_size_error(bad):
    with pytest.raises(ValueError, match=r'model\.mixing\.patch_size'):
        PatchUpMixing(patch_size=bad)


def test_alpha_and_members_errors():
    with pytest.raises(ValueError, match=r'model\.mixing\.alpha'):
        PatchUpMixing(alpha=-1)
    with pytest.raises(ValueError, match=r'model\.mixing\.num_members'):
        PatchUpMixing(num_members=1)
