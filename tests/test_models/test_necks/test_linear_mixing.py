import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import LinearMixing


def test_registered():
    mixing = MODELS.build(dict(type='LinearMixing', num_members=3, alpha=1.))
    assert isinstance(mixing, LinearMixing)
    assert mixing.num_members == 3
    assert mixing.alpha == 1.0
    assert len(list(mixing.parameters())) == 0


def test_hand_computed_mix(monkeypatch):
    mixing = LinearMixing(num_members=2).train()
    monkeypatch.setattr(mixing, 'sample_kappa',
                        lambda b, d: torch.tensor([[0.25, 0.75], [0.5, 0.5]]))
    l0 = torch.full((2, 1, 2, 2), 4.)
    l1 = torch.full((2, 1, 2, 2), 8.)
    out = mixing([l0, l1])
    # 2 * (0.25 * 4 + 0.75 * 8) = 14, 2 * (0.5 * 4 + 0.5 * 8) = 12
    assert torch.equal(out.features[0], torch.full((1, 2, 2), 14.))
    assert torch.equal(out.features[1], torch.full((1, 2, 2), 12.))
    assert torch.equal(out.kappa, torch.tensor([[0.25, 0.75], [0.5, 0.5]]))


@pytest.mark.parametrize('num_members', [2, 3, 4])
def test_masks_are_constant_maps_equal_to_kappa(num_members):
    torch.manual_seed(0)
    mixing = LinearMixing(num_members=num_members).train()
    feats = [torch.randn(8, 2, 5, 5) for _ in range(num_members)]
    out = mixing(feats)
    assert out.masks.shape == (8, num_members, 1, 1)
    assert out.masks.dtype == torch.float32
    assert torch.equal(out.kappa, out.masks.view(8, num_members))
    torch.testing.assert_close(out.kappa.sum(1), torch.ones(8))
    assert (out.kappa > 0).all() and (out.kappa < 1).all()
    # kappa differs between samples (per-sample draw)
    assert not torch.allclose(out.kappa[0], out.kappa[1])
    expected = num_members * sum(out.masks[:, i:i + 1] * feats[i]
                                 for i in range(num_members))
    torch.testing.assert_close(out.features, expected)


@pytest.mark.parametrize('num_members', [2, 3])
def test_kappa_is_symmetric_dirichlet(num_members):
    torch.manual_seed(1)
    mixing = LinearMixing(num_members=num_members, alpha=2.0)
    kappa = mixing.sample_masks(20000, 8, 8, torch.device('cpu')).flatten(1)
    # Dirichlet(2, ..., 2): mean 1/M, var = 2 (2M - 2) / ((2M)^2 (2M + 1))
    a0 = 2.0 * num_members
    var = 2.0 * (a0 - 2.0) / (a0**2 * (a0 + 1))
    torch.testing.assert_close(
        kappa.mean(0),
        torch.full((num_members, ), 1 / num_members),
        atol=5e-3,
        rtol=0)
    torch.testing.assert_close(
        kappa.var(0), torch.full((num_members, ), var), atol=2.5e-3, rtol=0)


@pytest.mark.parametrize('num_members', [2, 3, 4])
def test_mimo_kappa_exactly_one_over_m(num_members):
    mixing = LinearMixing(num_members=num_members, alpha=None).train()
    feats = [torch.randn(3, 2, 4, 4) for _ in range(num_members)]
    out = mixing(feats)
    assert torch.equal(out.kappa, torch.full((3, num_members),
                                             1 / num_members))
    assert torch.equal(out.masks,
                       torch.full((3, num_members, 1, 1), 1 / num_members))
    torch.testing.assert_close(out.features, sum(feats))


@pytest.mark.parametrize('alpha', [0, -1.0, float('nan'), 'two'])
def test_alpha_error(alpha):
    with pytest.raises(ValueError, match='model.mixing.alpha'):
        LinearMixing(alpha=alpha)
