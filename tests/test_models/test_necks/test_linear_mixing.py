import pytest
import torch

from mmmixmo.models.necks import LinearMixing


def test_mix_by_hand(monkeypatch):
    block = LinearMixing()
    kappa = torch.tensor([[0.25, 0.75], [0.5, 0.5]])
    monkeypatch.setattr(block, 'sample_kappa', lambda *args: kappa)
    l0, l1 = torch.full((2, 1, 2, 2), 4.), torch.full((2, 1, 2, 2), 8.)
    mixed, masks = block([l0, l1])
    # 2 * (0.25 * 4 + 0.75 * 8) = 14, 2 * (0.5 * 4 + 0.5 * 8) = 12
    assert torch.equal(mixed[:, 0, 0, 0], torch.tensor([14., 12.]))
    assert torch.equal(mixed, mixed[:, :, :1, :1].expand_as(mixed))
    assert torch.equal(masks, kappa.view(2, 2, 1, 1))


def test_kappa_drawn_per_sample():
    _, masks = LinearMixing(num_members=3)([torch.randn(8, 2, 5, 5)] * 3)
    assert masks.shape == (8, 3, 1, 1)
    assert ((masks > 0) & (masks < 1)).all()
    assert len(set(masks[:, 0].flatten().tolist())) == 8


@pytest.mark.parametrize('num_members', [2, 3, 4])
def test_mimo_sums_the_encodings(num_members):
    feats = [torch.randn(3, 2, 4, 4) for _ in range(num_members)]
    mixed, masks = LinearMixing(num_members=num_members, alpha=None)(feats)
    assert torch.equal(masks,
                       torch.full((3, num_members, 1, 1), 1 / num_members))
    torch.testing.assert_close(mixed, sum(feats))
