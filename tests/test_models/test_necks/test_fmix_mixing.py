import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import FMixMixing
from mmmixmo.models.necks.fmix_mixing import fourier_noise
from tests.utils.mixing import boundary_fraction, is_binary, record_draws

CPU = torch.device('cpu')


def test_registered():
    mixing = MODELS.build(
        dict(type='FMixMixing', num_members=3, alpha=1.5, decay_power=2))
    assert isinstance(mixing, FMixMixing)
    assert (mixing.num_members, mixing.alpha) == (3, 1.5)
    assert mixing.decay_power == 2.0
    assert FMixMixing().decay_power == 3.0  # FMix's default


def test_effective_kappa_is_exact(monkeypatch):
    torch.manual_seed(0)
    mixing = FMixMixing(num_members=2).train()
    rec = record_draws(monkeypatch, mixing)
    owner_area, owners = [], set()
    for _ in range(8):
        out = mixing([torch.zeros(32, 1, 32, 32)] * 2)
        owner = rec['owner']
        owners.add(owner)
        expected = torch.round(rec['kappa'][:, owner] * 1024) / 1024
        assert torch.equal(out.kappa[:, owner], expected)
        assert torch.equal(out.kappa[:, 1 - owner], 1 - expected)
        assert is_binary(out.masks[:, owner])
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
    smooth = boundary_fraction(
        FMixMixing(decay_power=3).owner_masks(area, 32, 32))
    rough = boundary_fraction(
        FMixMixing(decay_power=1).owner_masks(area, 32, 32))
    # measured about 0.05 and 0.27; an iid mask would give 0.5
    assert smooth < 0.08
    assert 0.2 < rough < 0.35


@pytest.mark.parametrize('bad', [0, -1, float('inf'), None, True])
def test_errors(bad):
    with pytest.raises(ValueError, match=r'model\.mixing\.decay_power'):
        FMixMixing(decay_power=bad)
    with pytest.raises(ValueError, match=r'model\.mixing\.alpha'):
        FMixMixing(alpha=bad)
    with pytest.raises(ValueError, match=r'model\.mixing\.num_members'):
        FMixMixing(num_members=1)
