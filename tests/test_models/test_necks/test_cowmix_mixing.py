import math

import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import CowMixMixing
from mmmixmo.models.necks.cowmix_mixing import gaussian_blur
from tests.utils.mixing import boundary_fraction, is_binary, record_draws

CPU = torch.device('cpu')


def test_registered():
    mixing = MODELS.build(
        dict(
            type='CowMixMixing',
            num_members=3,
            alpha=1.5,
            sigma_range=[2, 8]))
    assert isinstance(mixing, CowMixMixing)
    assert (mixing.num_members, mixing.alpha) == (3, 1.5)
    assert mixing.sigma_range == (2.0, 8.0)
    assert CowMixMixing().sigma_range == (4.0, 16.0)


def test_effective_kappa_is_exact(monkeypatch):
    torch.manual_seed(0)
    mixing = CowMixMixing(num_members=2).train()
    rec = record_draws(monkeypatch, mixing)
    owners = set()
    for _ in range(8):
        out = mixing([torch.zeros(32, 1, 32, 32)] * 2)
        owner = rec['owner']
        owners.add(owner)
        expected = torch.round(rec['kappa'][:, owner] * 1024) / 1024
        assert torch.equal(out.kappa[:, owner], expected)
        assert torch.equal(out.kappa[:, 1 - owner], 1 - expected)
        assert is_binary(out.masks[:, owner])
        assert torch.equal(out.masks[:, 1 - owner], 1 - out.masks[:, owner])
    assert owners == {0, 1}


def test_gaussian_blur_impulse_response():
    impulse = torch.zeros(2, 31, 31)
    impulse[:, 15, 15] = 1
    out = gaussian_blur(impulse, torch.tensor([1.0, 2.0]), 4.0)
    # the kernel spans +-12 cells (3 * 4): its sum is sqrt(2 pi) sigma to
    # within 1e-6, so the centre is 1 / (2 pi sigma^2)
    assert out[0, 15, 15].item() == pytest.approx(1 / (2 * math.pi), rel=1e-4)
    assert out[1, 15, 15].item() == pytest.approx(1 / (8 * math.pi), rel=1e-4)
    # separable Gaussian: one cell away exp(-1 / (2 sigma^2))
    ratio = out[:, 15, 16] / out[:, 15, 15]
    torch.testing.assert_close(ratio,
                               torch.tensor([math.exp(-0.5),
                                             math.exp(-1 / 8)]))
    torch.testing.assert_close(out[:, 14, 15], out[:, 15, 16])
    torch.testing.assert_close(out.sum((1, 2)), torch.ones(2))


def test_sigma_is_log_uniform():
    torch.manual_seed(0)
    mixing = CowMixMixing(sigma_range=(4, 16))
    sigma = mixing.sample_sigma(20000, 32, 32, CPU)
    assert sigma.min() >= 4 and sigma.max() <= 16
    # log2(sigma) ~ U(2, 4): median 8, a quarter below 4 * sqrt(2)
    assert (sigma < 8).float().mean().item() == pytest.approx(0.5, abs=0.02)
    below = (sigma < 4 * math.sqrt(2)).float().mean().item()
    assert below == pytest.approx(0.25, abs=0.02)
    # scaled to the grid: sqrt(64 * 64) / 32 = 2
    sigma = mixing.sample_sigma(2000, 64, 64, CPU)
    assert sigma.min() >= 8 and sigma.max() <= 32


def test_smoothness_grows_with_sigma():
    torch.manual_seed(0)
    area = torch.full((200, ), 0.5)

    def boundary(sigma):
        mixing = CowMixMixing(sigma_range=(sigma, sigma))
        return boundary_fraction(mixing.owner_masks(area, 32, 32))

    # measured about 0.22, 0.06 and 0.03; an iid mask would give 0.5
    rough, mid, smooth = boundary(1.), boundary(4.), boundary(16.)
    assert 0.15 < rough < 0.3
    assert 0.03 < mid < 0.09
    assert smooth < mid


def test_bf16_autocast_keeps_exact_area(monkeypatch):
    """The blur runs in float32 even though conv2d autocasts to bf16."""
    torch.manual_seed(0)
    l0, l1 = (torch.randn(16, 3, 16, 16).bfloat16() for _ in range(2))
    mixing = CowMixMixing().train()
    rec = record_draws(monkeypatch, mixing)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = mixing([l0, l1])
    assert out.features.dtype == torch.bfloat16
    assert out.masks.dtype == out.kappa.dtype == torch.float32
    owner = rec['owner']
    assert torch.equal(out.masks[:, owner].sum((1, 2)),
                       torch.round(rec['kappa'][:, owner] * 256))
    m = out.masks[:, 0:1].bfloat16()
    assert torch.equal(out.features, 2 * (m * l0 + (1 - m) * l1))


@pytest.mark.parametrize('bad', [(0, 4), (8, 4), (4, float('inf')), 4,
                                 (1, 2, 3), None, ('a', 'b')])
def test_sigma_range_error(bad):
    with pytest.raises(ValueError, match=r'model\.mixing\.sigma_range'):
        CowMixMixing(sigma_range=bad)


def test_alpha_and_members_errors():
    with pytest.raises(ValueError, match=r'model\.mixing\.alpha'):
        CowMixMixing(alpha=0)
    with pytest.raises(ValueError, match=r'model\.mixing\.num_members'):
        CowMixMixing(num_members=1)
