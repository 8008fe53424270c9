import pytest
import torch

from mmmixmo.models.necks import ConcatMixing
from tests.utils.mixing import record_draws


def fix_randint(monkeypatch, owner, layout):
    """Make the block draw ``owner`` and the layout ``(axis, border)``."""
    draws = {(1, ): [owner], (2, ): layout}
    monkeypatch.setattr(
        torch, 'randint',
        lambda high, size, **kwargs: torch.tensor(draws[tuple(size)]))


# layout draws: axis 0 = columns, 1 = rows; border 1 = first, 0 = last
@pytest.mark.parametrize('axis,border', [(0, 1), (0, 0), (1, 1), (1, 0)])
def test_stripes_by_hand(monkeypatch, axis, border):
    fix_randint(monkeypatch, 0, [axis, border])
    area = torch.tensor([0.0, 0.3, 0.5, 0.77, 1.0])
    masks = ConcatMixing().owner_masks(area, 8, 32)
    assert masks.shape == (5, 8, 32) and masks.dtype == torch.float32
    # 32 columns: round(9.6) = 10, 16, round(24.64) = 25;
    # 8 rows: round(2.4) = 2, 4, round(6.16) = 6
    keep = [[0, 10, 16, 25, 32], [0, 2, 4, 6, 8]][axis]
    length = [32, 8][axis]
    expected = torch.zeros(5, 8, 32)
    for b, k in enumerate(keep):
        span = slice(0, k) if border else slice(length - k, length)
        expected[(b, slice(None), span) if axis == 0 else (b, span)] = 1
    assert torch.equal(masks, expected)


def test_features_are_concatenated(monkeypatch):
    """Owner 1 on the left: mixed = 2 * cat(l_1[..., :k], l_0[..., k:])."""
    block = ConcatMixing()
    monkeypatch.setattr(block, 'sample_kappa',
                        lambda *args: torch.tensor([[0.7, 0.3], [0.4, 0.6]]))
    fix_randint(monkeypatch, 1, [0, 1])
    l0, l1 = torch.randn(2, 3, 4, 10), torch.randn(2, 3, 4, 10)
    mixed, _ = block([l0, l1])
    # owner widths: round(0.3 * 10) = 3, round(0.6 * 10) = 6
    for b, k in enumerate([3, 6]):
        expected = 2 * torch.cat([l1[b, ..., :k], l0[b, ..., k:]], dim=-1)
        assert torch.equal(mixed[b], expected)


@pytest.mark.parametrize('orientation,layouts', [
    ('both', {'left', 'right', 'top', 'bottom'}),
    ('width', {'left', 'right'}),
    ('height', {'top', 'bottom'}),
])
def test_random_layouts_have_the_exact_area(monkeypatch, orientation,
                                            layouts):
    block = ConcatMixing(orientation=orientation)
    rec = record_draws(monkeypatch, block)
    seen = set()
    for _ in range(30):
        masks = block.sample_masks(32, 16, 32, torch.device('cpu'))
        owner = masks[:, rec['owner']]
        kappa = rec['kappa'][:, rec['owner']]
        if torch.equal(owner, owner[:, :1].expand_as(owner)):  # columns
            first, last = owner[:, 0, 0].sum(), owner[:, 0, -1].sum()
            seen.add('left' if first > last else 'right')
            area = torch.round(kappa * 32) / 32
        else:
            assert torch.equal(owner, owner[..., :1].expand_as(owner))
            first, last = owner[:, 0, 0].sum(), owner[:, -1, 0].sum()
            seen.add('top' if first > last else 'bottom')
            area = torch.round(kappa * 16) / 16
        assert torch.equal(owner.mean((1, 2)), area)
    assert seen == layouts


def test_orientation_error_names_the_key():
    with pytest.raises(ValueError, match='model.mixing.orientation must be'):
        ConcatMixing(orientation='random')
