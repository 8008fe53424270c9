import pytest
import torch

from mmmixmo.models.necks import FMixMixing, fmix_mixing


def test_noise_spectrum(monkeypatch):
    """Power of frequency f is 2 / max(f, 1 / 8) ** 6 on an 8x8 grid."""
    scores = []
    monkeypatch.setattr(fmix_mixing, 'top_area_masks',
                        lambda noise, area: scores.append(noise))
    FMixMixing(decay_power=3).owner_masks(torch.zeros(4000), 8, 8)
    assert scores[0].shape == (4000, 8, 8)
    power = torch.fft.rfft2(scores[0]).abs().square().mean(0)
    # f = 1/8 at (0, 1): 2 * 8^6; f = 3/8 at (0, 3): ratio 3^6 = 729;
    # f = sqrt(2)/8 at (1, 1): ratio 2^-3 with (0, 1)
    assert power[0, 1].item() == pytest.approx(2 * 8**6, rel=0.1)
    assert (power[0, 1] / power[0, 3]).item() == pytest.approx(729, rel=0.1)
    assert (power[1, 1] / power[0, 1]).item() == pytest.approx(1 / 8, rel=0.1)


@pytest.mark.parametrize('decay_power', [0, float('inf')])
def test_decay_power_error_names_the_key(decay_power):
    with pytest.raises(
            ValueError, match='model.mixing.decay_power must be finite'):
        FMixMixing(decay_power=decay_power)
