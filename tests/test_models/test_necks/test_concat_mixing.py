import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import ConcatMixing
from tests.utils.mixing import is_binary, record_draws


def test_registered():
    mixing = MODELS.build(
        dict(
            type='ConcatMixing',
            num_members=3,
            alpha=1.5,
            orientation='height'))
    assert isinstance(mixing, ConcatMixing)
    assert (mixing.num_members, mixing.alpha) == (3, 1.5)
    assert mixing.orientation == 'height'
    assert ConcatMixing().orientation == 'both'


@pytest.mark.parametrize('layout', [('width', True), ('width', False),
                                    ('height', True), ('height', False)])
def test_stripes_by_hand(monkeypatch, layout):
    mixing = ConcatMixing()
    monkeypatch.setattr(mixing, 'sample_layout', lambda: layout)
    area = torch.tensor([0.0, 0.3, 0.5, 0.77, 1.0])
    masks = mixing.owner_masks(area, 8, 32)
    assert masks.shape == (5, 8, 32) and masks.dtype == torch.float32
    axis, from_start = layout
    if axis == 'width':
        # 32 columns: round(9.6) = 10, 16, round(24.64) = 25
        keep = [0, 10, 16, 25, 32]
        length = 32
    else:
        # 8 rows: round(2.4) = 2, 4, round(6.16) = 6
        keep = [0, 2, 4, 6, 8]
        length = 8
    expected = torch.zeros(5, 8, 32)
    for b, k in enumerate(keep):
        span = slice(0, k) if from_start else slice(length - k, length)
        if axis == 'width':
            expected[b, :, span] = 1
        else:
            expected[b, span, :] = 1
    assert torch.equal(masks, expected)
    torch.testing.assert_close(
        masks.mean((1, 2)),
        torch.tensor(keep, dtype=torch.float32) / length)


def test_features_are_concatenated(monkeypatch):
    """Owner 1 on the left: mixed = 2 * cat(l_1[..., :k], l_0[..., k:])."""
    mixing = ConcatMixing().train()
    monkeypatch.setattr(mixing, 'sample_kappa',
                        lambda b, d: torch.tensor([[0.7, 0.3], [0.4, 0.6]]))
    monkeypatch.setattr(mixing, 'sample_owner', lambda: 1)
    monkeypatch.setattr(mixing, 'sample_layout', lambda: ('width', True))
    l0, l1 = torch.randn(2, 3, 4, 10), torch.randn(2, 3, 4, 10)
    out = mixing([l0, l1])
    # owner widths: round(0.3 * 10) = 3, round(0.6 * 10) = 6
    for b, k in enumerate([3, 6]):
        expected = 2 * torch.cat([l1[b, ..., :k], l0[b, ..., k:]], dim=-1)
        assert torch.equal(out.features[b], expected)
    assert torch.equal(out.kappa, torch.tensor([[0.7, 0.3], [0.4, 0.6]]))


def test_effective_kappa_is_exact(monkeypatch):
    torch.manual_seed(0)
    mixing = ConcatMixing(num_members=2).train()
    rec = record_draws(
        monkeypatch, mixing, ('sample_kappa', 'sample_owner', 'sample_layout'))
    owners, layouts = set(), set()
    for _ in range(40):
        out = mixing([torch.zeros(32, 1, 16, 32)] * 2)
        owner = rec['owner']
        owners.add(owner)
        layouts.add(rec['layout'])
        length = 32 if rec['layout'][0] == 'width' else 16
        expected = torch.round(rec['kappa'][:, owner] * length) / length
        assert torch.equal(out.kappa[:, owner], expected)
        assert torch.equal(out.kappa[:, 1 - owner], 1 - expected)
        assert is_binary(out.masks[:, owner])
        assert torch.equal(out.masks[:, 1 - owner], 1 - out.masks[:, owner])
    assert owners == {0, 1}
    assert layouts == {('width', True), ('width', False), ('height', True),
                       ('height', False)}


@pytest.mark.parametrize('orientation', ['width', 'height'])
def test_fixed_orientation(orientation):
    torch.manual_seed(0)
    mixing = ConcatMixing(orientation=orientation)
    layouts = {mixing.sample_layout() for _ in range(30)}
    assert layouts == {(orientation, True), (orientation, False)}


@pytest.mark.parametrize('bad', ['random', 'W', None, 1])
def test_orientation_error(bad):
    with pytest.raises(ValueError, match=r'model\.mixing\.orientation'):
        ConcatMixing(orientation=bad)


def test_alpha_and_members_errors():
    with pytest.raises(ValueError, match=r'model\.mixing\.alpha'):
        ConcatMixing(alpha=float('inf'))
    with pytest.raises(ValueError, match=r'model\.mixing\.num_members'):
        ConcatMixing(num_members=1)
