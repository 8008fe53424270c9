import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import FMixMixing
from mmmixmo.models.necks.fmix_mixing import fourier_noise

CPU = torch.device('cpu')


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


def _boundary(masks):
    """Fraction of 4-neighbour pairs with different values (0.5 if iid)."""
    rows = (masks[:, 1:] != masks[:, :-1]).float().mean()
    cols = (masks[:, :, 1:] != masks[:, :, :-1]).float().mean()
    return ((rows + cols) / 2).item()


def _is_binary(mask):
    return bool(((mask == 0) | (mask == 1)).all())


def test_registered():
    mixing = MODELS.build(
        dict(type='FMixMixing', num_members=3, alpha=1.5, decay_power=2))
    assert isinstance(mixing, FMixMixing)
    assert (mixing.num_members, mixing.alpha) == (3, 1.5)
    assert mixing.decay_power == 2.0
    assert FMixMixing().decay_power == 3.0  # FMix's default


def test_exact_area_by_hand():
    torch.manual_seed(0)
    mixing = FMixMixing()
    area = torch.tensor([0.0, 0.3, 0.5, 0.77, 1.0])
    masks = mixing.owner_masks(area, 32, 32)
    assert masks.shape == (5, 32, 32) and masks.dtype == torch.float32
    assert _is_binary(masks)
    # round(307.2) = 307, round(788.48) = 788
    assert masks.sum((1, 2)).tolist() == [0., 307., 512., 788., 1024.]
    # non-square grid: 0.3 * 60 = 18, 0.77 * 60 = 46.2 -> 46
    masks = mixing.owner_masks(area, 6, 10)
    assert masks.sum((1, 2)).tolist() == [0., 18., 30., 46., 60.]


def test_effective_kappa_is_exact(monkeypatch):
    torch.manual_seed(0)
    mixing = FMixMixing(num_members=2).train()
    rec = _record(monkeypatch, mixing)
    owner_area, owners = [], set()
    for _ in range(8):
        out = mixing([torch.zeros(32, 1, 32, 32)] * 2)
        owner = rec['owner']
        owners.add(owner)
        expected = torch.round(rec['kappa'][:, owner] * 1024) / 1024
        assert torch.equal(out.kappa[:, owner], expected)
        assert torch.equal(out.kappa[:, 1 - owner], 1 - expected)
        assert _is_binary(out.masks[:, owner])
        assert torch.equal(out.masks[:, 1 - owner], 1 - out.masks[:, owner])
        owner_area.append(out.kappa[:, owner])
    assert owners == {0, 1}
    # |effective - requested| <= half a cell, so the Beta(2, 2) mean (0.5)
    # stays: 256 draws, standard error 0.014
    mean_area = torch.cat(owner_area).mean().item()
    assert abs(mean_area - 0.5) < 0.06, mean_area


def test_fourier_noise_spectrum():
    """Power of frequency f is 2 / max(f, 1 / 8) ** 6 on an 8x8 grid."""
    torch.manual_seed(0)
    noise = fourier_noise(4000, 8, 8, 3.0, CPU)
    assert noise.shape == (4000, 8, 8) and noise.dtype == torch.float32
    power = torch.fft.rfft2(noise).abs().square().mean(0)
    # f = 1/8 at (0, 1): 2 * 8^6; f = 3/8 at (0, 3): ratio 3^6 = 729;
    # f = sqrt(2)/8 at (1, 1): ratio 2^-3 with (0, 1)
    assert power[0, 1].item() == pytest.approx(2 * 8**6, rel=0.1)
    assert (power[0, 1] / power[0, 3]).item() == pytest.approx(729, rel=0.1)
    assert (power[1, 1] / power[0, 1]).item() == pytest.approx(1 / 8, rel=0.1)


def test_masks_are_low_frequency():
    torch.manual_seed(0)
    area = torch.full((300, ), 0.5)
    smooth = _boundary(FMixMixing(decay_power=3).owner_masks(area, 32, 32))
    rough = _boundary(FMixMixing(decay_power=1).owner_masks(area, 32, 32))
    # measured about 0.05 and 0.27; an iid mask would give 0.5
    assert smooth < 0.08
    assert 0.2 < rough < 0.35


def test_three_members(monkeypatch):
    torch.manual_seed(0)
    mixing = FMixMixing(num_members=3).train()
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
        assert torch.equal(box.sum((1, 2)),
                           torch.round(kappa[:, owner] * 64))
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
    out = FMixMixing(num_members=3).eval()(feats)
    assert torch.equal(out.features, feats[0] + feats[1] + feats[2])
    assert torch.equal(out.masks, torch.full((2, 3, 1, 1), 1 / 3))
    assert torch.equal(out.kappa, torch.full((2, 3), 1 / 3))


def test_bf16_autocast():
    torch.manual_seed(0)
    l0, l1 = (torch.randn(4, 3, 16, 16).bfloat16() for _ in range(2))
    mixing = FMixMixing().train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = mixing([l0, l1])
    assert out.features.dtype == torch.bfloat16
    assert out.masks.dtype == out.kappa.dtype == torch.float32
    assert _is_binary(out.masks)
    m = out.masks[:, 0:1].bfloat16()
    assert torch.equal(out.features, 2 * (m * l0 + (1 - m) * l1))


@pytest.mark.parametrize('bad', [0, -1, float('inf'), None, True])
def test_errors(bad):
    with pytest.raises(ValueError, match=r'model\.mixing\.decay_power'):
        FMixMixing(decay_power=bad)
    with pytest.raises(ValueError, match=r'model\.mixing\.alpha'):
        FMixMixing(alpha=bad)
    with pytest.raises(ValueError, match=r'model\.mixing\.num_members'):
        FMixMixing(num_members=1)
