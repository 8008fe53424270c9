import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import BaseMixing

BLOCKS = [
    'LinearMixing', 'CutMixing', 'CutOrLinearMixing', 'FMixMixing',
    'CowMixMixing', 'PatchUpMixing', 'ConcatMixing'
]


class FixedMixing(BaseMixing):
    """Returns the given masks, to check the formula by hand."""

    def __init__(self, masks):
        super().__init__(num_members=masks.shape[1])
        self.masks = masks

    def sample_masks(self, batch_size, height, width, device):
        return self.masks


def test_is_abstract():
    with pytest.raises(TypeError):
        BaseMixing()


def test_formula_two_members_by_hand():
    # member 0 keeps the top row of sample 0 and a weight 0.25 in sample 1
    masks = torch.zeros(2, 2, 2, 2)
    masks[0, 0, 0] = 1
    masks[1, 0] = 0.25
    masks[:, 1] = 1 - masks[:, 0]
    l0, l1 = torch.full((2, 1, 2, 2), 4.), torch.full((2, 1, 2, 2), 8.)
    mixed, out_masks = FixedMixing(masks)([l0, l1])
    # 2 * 4 = 8 and 2 * 8 = 16; 2 * (0.25 * 4 + 0.75 * 8) = 14
    expected = torch.tensor([[[[8., 8.], [16., 16.]]], [[[14., 14.],
                                                         [14., 14.]]]])
    assert torch.equal(mixed, expected)
    assert torch.equal(out_masks, masks)


def test_formula_three_members_by_hand():
    masks = torch.tensor([0.5, 0.25, 0.25]).view(1, 3, 1, 1)
    feats = [torch.full((1, 2, 3, 3), v) for v in (1., 2., 6.)]
    mixed, _ = FixedMixing(masks)(feats)
    # 3 * (0.5 * 1 + 0.25 * 2 + 0.25 * 6) = 7.5
    assert torch.equal(mixed, torch.full((1, 2, 3, 3), 7.5))


@pytest.mark.parametrize('num_members', [2, 3])
@pytest.mark.parametrize('name', BLOCKS)
def test_every_block_mixes_with_a_partition(name, num_members):
    block = MODELS.build(dict(type=name, num_members=num_members))
    for _ in range(4):
        feats = [torch.randn(4, 3, 8, 8) for _ in range(num_members)]
        mixed, masks = block(feats)
        assert masks.dtype == torch.float32
        assert masks.shape[:2] == (4, num_members)
        assert masks.shape[2:] in ((1, 1), (8, 8))
        assert (masks >= 0).all()
        torch.testing.assert_close(masks.sum(1), torch.ones_like(masks[:, 0]))
        torch.testing.assert_close(
            mixed, num_members * sum(masks[:, i:i + 1] * feats[i]
                                     for i in range(num_members)))


@pytest.mark.parametrize('name', BLOCKS)
def test_bf16_autocast_keeps_float32_masks(name):
    block = MODELS.build(dict(type=name))
    l0, l1 = torch.randn(32, 3, 16, 16), torch.randn(32, 3, 16, 16)
    torch.manual_seed(1)
    _, masks = block([l0, l1])
    l0, l1 = l0.bfloat16(), l1.bfloat16()
    torch.manual_seed(1)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        mixed, autocast_masks = block([l0, l1])
    # float32 masks, drawn as without autocast
    assert autocast_masks.dtype == torch.float32
    assert torch.equal(autocast_masks, masks)
    assert mixed.dtype == torch.bfloat16
    weights = masks.bfloat16()
    assert torch.equal(mixed, 2 * (weights[:, :1] * l0 + weights[:, 1:] * l1))


@pytest.mark.parametrize('num_members', [2, 3])
def test_kappa_is_symmetric_dirichlet(num_members):
    block = MODELS.build(
        dict(type='LinearMixing', num_members=num_members, alpha=2.0))
    kappa = block.sample_kappa(20000, torch.device('cpu'))
    assert kappa.shape == (20000, num_members)
    torch.testing.assert_close(kappa.sum(1), torch.ones(20000))
    # Dirichlet(2, ..., 2): mean 1/M, variance 2 (2M - 2) / ((2M)^2 (2M + 1))
    a0 = 2.0 * num_members
    var = 2.0 * (a0 - 2.0) / (a0**2 * (a0 + 1))
    torch.testing.assert_close(
        kappa.mean(0),
        torch.full((num_members, ), 1 / num_members),
        atol=5e-3,
        rtol=0)
    torch.testing.assert_close(
        kappa.var(0), torch.full((num_members, ), var), atol=2.5e-3, rtol=0)


@pytest.mark.parametrize('alpha', [0.05, 0.5, 2.0])
@pytest.mark.parametrize('num_members', [2, 4])
def test_kappa_draws_are_torchs_dirichlet_on_cpu(num_members, alpha):
    # normalised Gamma draws (traceable by torch.compile): the same numbers
    block = MODELS.build(
        dict(type='LinearMixing', num_members=num_members, alpha=alpha))
    torch.manual_seed(1)
    kappa = block.sample_kappa(5000, torch.device('cpu'))
    torch.manual_seed(1)
    expected = torch.distributions.Dirichlet(
        torch.full((num_members, ), alpha)).sample((5000, ))
    assert torch.equal(kappa, expected)


@pytest.mark.parametrize('alpha', [0, -1, float('inf')])
@pytest.mark.parametrize('name', BLOCKS)
def test_alpha_error_names_the_key(name, alpha):
    with pytest.raises(
            ValueError,
            match=f'model.mixing.alpha must be finite and > 0, got {alpha}'):
        MODELS.build(dict(type=name, alpha=alpha))
