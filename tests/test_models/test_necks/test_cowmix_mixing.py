import math

import pytest
import torch

from mmmixmo.models.necks import CowMixMixing, cowmix_mixing


@pytest.mark.parametrize('size', [32, 64])
def test_blurred_impulse_by_hand(monkeypatch, size):
    """u = 0, 0.5, 1 in sigma_range (1, 4): sigma = 1, 2, 4 (log-uniform)
    cells of a 32x32 grid, times sqrt(H * W) / 32 on other grids."""
    impulse = torch.zeros(3, size, size)
    centre = size // 2
    impulse[:, centre, centre] = 1
    monkeypatch.setattr(torch, 'rand', lambda *args, **kwargs: torch.tensor(
        [0., .5, 1.]))
    monkeypatch.setattr(torch, 'randn', lambda *args, **kwargs: impulse)
    scores = []
    monkeypatch.setattr(cowmix_mixing, 'top_area_masks',
                        lambda noise, area: scores.append(noise))
    CowMixMixing(sigma_range=(1, 4)).owner_masks(torch.zeros(3), size, size)
    blurred = scores[0]
    scale = size / 32
    sigma = torch.tensor([1., 2., 4.]) * scale
    # a separable kernel truncated at 3 max sigma, normalised to sum 1
    radius = math.ceil(3 * 4 * scale)
    offsets = torch.arange(-radius, radius + 1.)
    kernel_sum = torch.exp(-offsets**2 / (2 * sigma.view(3, 1)**2)).sum(1)
    torch.testing.assert_close(blurred[:, centre, centre], kernel_sum**-2)
    torch.testing.assert_close(blurred[:, centre, centre + 1],
                               kernel_sum**-2 * torch.exp(-0.5 / sigma**2))
    torch.testing.assert_close(blurred[:, centre - 1, centre],
                               blurred[:, centre, centre + 1])
    torch.testing.assert_close(blurred.sum((1, 2)), torch.ones(3))


@pytest.mark.parametrize('bad', [(0, 4), (8, 4), (4, float('inf'))])
def test_sigma_range_error_names_the_key(bad):
    with pytest.raises(ValueError, match='model.mixing.sigma_range must be'):
        CowMixMixing(sigma_range=bad)
