import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import PatchUpMixing


def _record(monkeypatch, mixing):
    """Keep the requested kappa and the owner of the last batch."""
    rec = {}
    real_kappa, real_owner = mixing.sample_kappa, mixing.sample_owner

    def sample_kappa(batch_size, device):
        rec['kappa'] = real_kappa(batch_size, device)
        return rec['kappa']

    def sample_owner():
        rec['owner'] = real_owner()
        return rec['owner']

    monkeypatch.setattr(mixing, 'sample_kappa', sample_kappa)
    monkeypatch.setattr(mixing, 'sample_owner', sample_owner)
    return rec


def _is_binary(mask):
    return bool(((mask == 0) | (mask == 1)).all())


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
    assert _is_binary(masks)
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
    rec = _record(monkeypatch, mixing)
    requested, effective, owners = [], [], set()
    for _ in range(8):
        out = mixing([torch.zeros(128, 1, 32, 32)] * 2)
        owner = rec['owner']
        owners.add(owner)
        assert _is_binary(out.masks[:, owner])
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


def test_three_members(monkeypatch):
    torch.manual_seed(0)
    mixing = PatchUpMixing(num_members=3, patch_size=2).train()
    rec = _record(monkeypatch, mixing)
    owners = set()
    for _ in range(20):
        feats = [torch.randn(8, 2, 8, 8) for _ in range(3)]
        out = mixing(feats)
        owner = rec['owner']
        owners.add(owner)
        kappa = rec['kappa']
        box = out.masks[:, owner]
        assert _is_binary(box)
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


def test_eval_is_plain_sum():
    feats = [torch.randn(2, 3, 8, 8) for _ in range(3)]
    out = PatchUpMixing(num_members=3).eval()(feats)
    assert torch.equal(out.features, feats[0] + feats[1] + feats[2])
    assert torch.equal(out.masks, torch.full((2, 3, 1, 1), 1 / 3))
    assert torch.equal(out.kappa, torch.full((2, 3), 1 / 3))


def test_bf16_autocast():
    torch.manual_seed(0)
    l0, l1 = (torch.randn(4, 3, 16, 16).bfloat16() for _ in range(2))
    mixing = PatchUpMixing().train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = mixing([l0, l1])
    assert out.features.dtype == torch.bfloat16
    assert out.masks.dtype == out.kappa.dtype == torch.float32
    assert _is_binary(out.masks)
    m = out.masks[:, 0:1].bfloat16()
    assert torch.equal(out.features, 2 * (m * l0 + (1 - m) * l1))


@pytest.mark.parametrize('bad', [0, -2, 2.5, True, None, (1, 2, 3), (4, 0)])
def test_patch_size_error(bad):
    with pytest.raises(ValueError, match=r'model\.mixing\.patch_size'):
        PatchUpMixing(patch_size=bad)


def test_alpha_and_members_errors():
    with pytest.raises(ValueError, match=r'model\.mixing\.alpha'):
        PatchUpMixing(alpha=-1)
    with pytest.raises(ValueError, match=r'model\.mixing\.num_members'):
        PatchUpMixing(num_members=1)
