import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import ConcatMixing


def _record(monkeypatch, mixing):
    """Keep the requested kappa, the owner and the layout of the batch."""
    rec = {}
    real_kappa, real_owner = mixing.sample_kappa, mixing.sample_owner
    real_layout = mixing.sample_layout

    def sample_kappa(batch_size, device):
        rec['kappa'] = real_kappa(batch_size, device)
        return rec['kappa']

    def sample_owner():
        rec['owner'] = real_owner()
        return rec['owner']

    def sample_layout():
        rec['layout'] = real_layout()
        return rec['layout']

    monkeypatch.setattr(mixing, 'sample_kappa', sample_kappa)
    monkeypatch.setattr(mixing, 'sample_owner', sample_owner)
    monkeypatch.setattr(mixing, 'sample_layout', sample_layout)
    return rec


def _is_binary(mask):
    return bool(((mask == 0) | (mask == 1)).all())


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
    rec = _record(monkeypatch, mixing)
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
        assert _is_binary(out.masks[:, owner])
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


def test_three_members(monkeypatch):
    torch.manual_seed(0)
    mixing = ConcatMixing(num_members=3).train()
    rec = _record(monkeypatch, mixing)
    owners = set()
    for _ in range(20):
        feats = [torch.randn(8, 2, 8, 8) for _ in range(3)]
        out = mixing(feats)
        owner = rec['owner']
        owners.add(owner)
        kappa = rec['kappa']
        box = out.masks[:, owner]
        assert _is_binary(box)
        # 8 full rows or columns of 8 cells: round(8 kappa_A) * 8 cells
        assert torch.equal(box.sum((1, 2)),
                           torch.round(kappa[:, owner] * 8) * 8)
        torch.testing.assert_close(out.masks.sum(1), torch.ones(8, 8, 8))
        for j in range(3):
            if j != owner:
                share = kappa[:, j] / (1 - kappa[:, owner])
                torch.testing.assert_close(
                    out.masks[:, j], (1 - box) * share.view(8, 1, 1))
        torch.testing.assert_close(out.kappa, out.masks.mean((2, 3)))
        expected = 3 * sum(out.masks[:, i:i + 1] * feats[i] for i in range(3))
        torch.testing.assert_close(out.features, expected)
    assert owners == {0, 1, 2}


def test_eval_is_plain_sum():
    feats = [torch.randn(2, 3, 8, 8) for _ in range(3)]
    out = ConcatMixing(num_members=3).eval()(feats)
    assert torch.equal(out.features, feats[0] + feats[1] + feats[2])
    assert torch.equal(out.masks, torch.full((2, 3, 1, 1), 1 / 3))
    assert torch.equal(out.kappa, torch.full((2, 3), 1 / 3))


def test_bf16_autocast():
    torch.manual_seed(0)
    l0, l1 = (torch.randn(4, 3, 16, 16).bfloat16() for _ in range(2))
    mixing = ConcatMixing().train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = mixing([l0, l1])
    assert out.features.dtype == torch.bfloat16
    assert out.masks.dtype == out.kappa.dtype == torch.float32
    assert _is_binary(out.masks)
    m = out.masks[:, 0:1].bfloat16()
    assert torch.equal(out.features, 2 * (m * l0 + (1 - m) * l1))


@pytest.mark.parametrize('bad', ['random', 'W', None, 1])
def test_orientation_error(bad):
    with pytest.raises(ValueError, match=r'model\.mixing\.orientation'):
        ConcatMixing(orientation=bad)


def test_alpha_and_members_errors():
    with pytest.raises(ValueError, match=r'model\.mixing\.alpha'):
        ConcatMixing(alpha=float('inf'))
    with pytest.raises(ValueError, match=r'model\.mixing\.num_members'):
        ConcatMixing(num_members=1)
