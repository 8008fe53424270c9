import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import BinaryMaskMixing
from mmmixmo.models.necks.binary_mask_mixing import top_area_masks
from tests.utils.mixing import is_binary, record_draws

CPU = torch.device('cpu')


class HalfMixing(BinaryMaskMixing):
    """The owner keeps the left half; records its call and autocast state."""

    def owner_masks(self, area, height, width):
        self.call = (area, height, width, torch.is_autocast_enabled('cpu'))
        mask = torch.zeros(area.shape[0], height, width)
        mask[..., :width // 2] = 1
        return mask


def half_mixing(monkeypatch, kappa, owner=None):
    """A HalfMixing drawing ``kappa`` and, if given, ``owner``."""
    block = HalfMixing(num_members=kappa.shape[1])
    monkeypatch.setattr(block, 'sample_kappa', lambda *args: kappa)
    if owner is not None:
        monkeypatch.setattr(torch, 'randint',
                            lambda *args, **kwargs: torch.tensor([owner]))
    return block


def test_is_abstract():
    with pytest.raises(TypeError):
        BinaryMaskMixing()


@pytest.mark.parametrize('name,option,value,default', [
    ('FMixMixing', 'decay_power', 2.0, 3.0),
    ('CowMixMixing', 'sigma_range', (2.0, 8.0), (4.0, 16.0)),
    ('PatchUpMixing', 'patch_size', (2, 8), (4, 4)),
    ('ConcatMixing', 'orientation', 'height', 'both'),
])
def test_registered_with_options(name, option, value, default):
    given = list(value) if isinstance(value, tuple) else value
    block = MODELS.build({
        'type': name,
        'num_members': 3,
        'alpha': 1.5,
        option: given
    })
    assert isinstance(block, BinaryMaskMixing)
    assert (block.num_members, block.alpha) == (3, 1.5)
    assert getattr(block, option) == value
    assert getattr(MODELS.get(name)(), option) == default


# Owner A: member j != A gets kappa_j / (1 - kappa_A) on the right half.
@pytest.mark.parametrize('owner,shares', [(0, [0, .75, .25]),
                                          (1, [6 / 7, 0, 1 / 7]),
                                          (2, [2 / 3, 1 / 3, 0])])
def test_three_members_by_hand(monkeypatch, owner, shares):
    kappa = torch.tensor([[0.6, 0.3, 0.1]] * 2)
    block = half_mixing(monkeypatch, kappa, owner)
    masks = block.sample_masks(2, 2, 4, CPU)
    area, height, width, _ = block.call
    assert torch.equal(area, kappa[:, owner]) and (height, width) == (2, 4)
    expected = torch.tensor(shares).view(1, 3, 1, 1).repeat(2, 1, 2, 4)
    expected[..., :2] = 0
    expected[:, owner, :, :2] = 1
    assert masks.dtype == torch.float32
    torch.testing.assert_close(masks, expected)


def test_even_split_when_the_owner_has_everything(monkeypatch):
    block = half_mixing(monkeypatch, torch.tensor([[0., 1., 0.]]), owner=1)
    masks = block.sample_masks(1, 2, 2, CPU)
    expected = torch.tensor([[[0., .5]] * 2, [[1., 0.]] * 2, [[0., .5]] * 2])
    assert torch.equal(masks[0], expected)


def test_owner_drawn_uniformly_per_batch(monkeypatch):
    kappa = torch.tensor([[0.5, 0.3, 0.2]] * 4)
    block = half_mixing(monkeypatch, kappa)
    counts = [0, 0, 0]
    for _ in range(600):
        masks = block.sample_masks(4, 2, 2, CPU)
        owner = [torch.equal(block.call[0], k) for k in kappa.unbind(1)]
        owner = owner.index(True)
        # one owner for the whole batch
        assert torch.equal(masks[:, owner, :, 0], torch.ones(4, 2))
        counts[owner] += 1
    # binomial(600, 1/3): 200 +- 11.5
    assert all(150 <= count <= 250 for count in counts), counts


def test_masks_drawn_without_autocast():
    block = HalfMixing()
    feats = [torch.randn(2, 3, 4, 4).bfloat16() for _ in range(2)]
    with torch.autocast('cpu', dtype=torch.bfloat16):
        block(feats)
    assert block.call[3] is False


@pytest.mark.parametrize('name', [
    'CutMixing', 'FMixMixing', 'CowMixMixing', 'PatchUpMixing', 'ConcatMixing'
])
def test_every_block_owner_and_complement(name, monkeypatch):
    block = MODELS.build(dict(type=name, num_members=3))
    rec = record_draws(monkeypatch, block)
    owners = set()
    for _ in range(20):
        masks = block.sample_masks(8, 8, 8, CPU)
        owner, kappa = rec['owner'], rec['kappa']
        owners.add(owner)
        assert is_binary(masks[:, owner])
        for j in {0, 1, 2} - {owner}:
            share = kappa[:, j] / (1 - kappa[:, owner])
            torch.testing.assert_close(
                masks[:, j], (1 - masks[:, owner]) * share.view(8, 1, 1))
    assert owners == {0, 1, 2}


def test_top_area_masks_by_hand():
    scores = torch.tensor([[[0.1, 0.9, 0.5], [0.3, 0.7, 0.2]]] * 3)
    masks = top_area_masks(scores, torch.tensor([0.5, 0.0, 0.42]))
    # round(0.5 * 6) = 3 and round(0.42 * 6) = 3: the cells 0.9, 0.7, 0.5
    top3 = torch.tensor([[0., 1., 1.], [0., 1., 0.]])
    assert torch.equal(masks, torch.stack([top3, torch.zeros(2, 3), top3]))
    # ties are broken by the sort order: the area stays exact
    masks = top_area_masks(torch.zeros(4, 5, 5),
                           torch.tensor([0.0, 0.2, 0.61, 1.0]))
    assert is_binary(masks)
    assert masks.sum((1, 2)).tolist() == [0., 5., 15., 25.]


@pytest.mark.parametrize('name', ['FMixMixing', 'CowMixMixing'])
def test_thresholded_noise_has_the_exact_area(name):
    block = MODELS.build(dict(type=name))
    area = torch.tensor([0.0, 0.3, 0.5, 0.77, 1.0])
    masks = block.owner_masks(area, 32, 32)
    assert masks.shape == (5, 32, 32) and masks.dtype == torch.float32
    assert is_binary(masks)
    # round(307.2) = 307, round(788.48) = 788
    assert masks.sum((1, 2)).tolist() == [0., 307., 512., 788., 1024.]
    # non-square grid: 0.3 * 60 = 18, 0.77 * 60 = 46.2 -> 46
    masks = block.owner_masks(area, 6, 10)
    assert masks.sum((1, 2)).tolist() == [0., 18., 30., 46., 60.]
