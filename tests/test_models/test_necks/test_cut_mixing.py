import pytest
import torch
from mmpretrain.registry import MODELS

import mmmixmo.models.necks.cut_mixing as cut_mixing_module
from mmmixmo.models.necks import CutMixing
from mmmixmo.models.utils import cutmix_box_masks

CPU = torch.device('cpu')


class BoxRecorder:
    """Wraps the real cutmix_box_masks and keeps its inputs and outputs."""

    def __init__(self):
        self.areas = []
        self.boxes = []

    def __call__(self, area, height, width, generator=None):
        box = cutmix_box_masks(area, height, width, generator=generator)
        self.areas.append(area.clone())
        self.boxes.append(box.clone())
        return box


@pytest.fixture
def recorder(monkeypatch):
    rec = BoxRecorder()
    monkeypatch.setattr(cut_mixing_module, 'cutmix_box_masks', rec)
    return rec


def _is_binary(mask):
    return bool(((mask == 0) | (mask == 1)).all())


def test_registered():
    mixing = MODELS.build(dict(type='CutMixing', num_members=4, alpha=1.5))
    assert isinstance(mixing, CutMixing)
    assert (mixing.num_members, mixing.alpha) == (4, 1.5)


@pytest.mark.parametrize(
    'owner,expected_boxes',
    [
        # kappa_0 = 0.25: side floor(32 * 0.5) = 16, span [c - 8, c + 8)
        (0, [(slice(0, 8), slice(23, 32)), (slice(23, 32), slice(0, 8))]),
        # kappa_1 = 0.75: side floor(32 * 0.866) = 27, span [c - 13, c + 13)
        (1, [(slice(0, 13), slice(18, 32)), (slice(18, 32), slice(0, 13))]),
    ])
def test_corner_boxes_are_clipped(monkeypatch, owner, expected_boxes):
    """Centres at the corners (0, 31) and (31, 0), checked by hand."""
    mixing = CutMixing(num_members=2).train()
    monkeypatch.setattr(mixing, 'sample_kappa',
                        lambda b, d: torch.tensor([[0.25, 0.75]] * 2))
    monkeypatch.setattr(mixing, 'sample_owner', lambda: owner)
    centres = {32: [torch.tensor([0, 31]), torch.tensor([31, 0])]}
    real_randint = torch.randint

    def fake_randint(*args, **kwargs):
        if len(args) == 3 and args[0] == 0 and args[1] == 32:
            return centres[32].pop(0)  # y centres first, then x centres
        return real_randint(*args, **kwargs)

    monkeypatch.setattr(torch, 'randint', fake_randint)
    l0 = torch.full((2, 1, 32, 32), 4.)
    l1 = torch.full((2, 1, 32, 32), 8.)
    out = mixing([l0, l1])
    assert centres[32] == []  # both centre draws were taken

    box = torch.zeros(2, 32, 32)
    for i, (rows, cols) in enumerate(expected_boxes):
        box[i, rows, cols] = 1
    assert torch.equal(out.masks[:, owner], box)
    assert torch.equal(out.masks[:, 1 - owner], 1 - box)
    area = box.sum((1, 2)) / 1024
    if owner == 0:
        assert area.tolist() == [72 / 1024, 72 / 1024]
    else:
        assert area.tolist() == [182 / 1024, 182 / 1024]
    assert torch.equal(out.kappa[:, owner], area)
    assert torch.equal(out.kappa[:, 1 - owner], 1 - area)
    torch.testing.assert_close(out.kappa, out.masks.mean((2, 3)))
    m0 = out.masks[:, 0:1]
    expected = 2 * (m0 * 4. + (1 - m0) * 8.)
    assert torch.equal(out.features, expected)
    # inside the owner's box the feature is 2 * l_owner, outside 2 * l_other
    owner_value = 8. if owner == 0 else 16.
    assert out.features[0, 0, 0, 31].item() == owner_value
    assert out.features[0, 0, 31, 0].item() == 24. - owner_value


def test_mean_effective_area_of_owner(recorder):
    """Beta(2, 2) requested area, 32x32 grid: real mean area about 0.31."""
    torch.manual_seed(0)
    mixing = CutMixing(num_members=2, alpha=2.0).train()
    owner_kappa = []
    for _ in range(8):
        out = mixing([torch.zeros(2500, 1, 32, 32)] * 2)
        box = recorder.boxes[-1]
        owners = [i for i in range(2) if torch.equal(out.masks[:, i], box)]
        assert len(owners) == 1
        owner_kappa.append(out.kappa[:, owners[0]])
    owner_kappa = torch.cat(owner_kappa)
    assert owner_kappa.numel() == 20000
    mean_area = owner_kappa.mean().item()
    assert abs(mean_area - 0.31) <= 0.01, mean_area
    # the requested areas are Beta(2, 2): mean 0.5, variance 0.05
    areas = torch.cat(recorder.areas)
    assert abs(areas.mean().item() - 0.5) < 0.01
    assert abs(areas.var().item() - 0.05) < 0.003
    print(f'mean effective owner area: {mean_area:.4f}')
    # the clipping always shrinks the rectangle
    assert (owner_kappa <= areas + 1e-6).all()


def test_one_owner_per_batch_two_members(recorder):
    torch.manual_seed(0)
    mixing = CutMixing(num_members=2).train()
    owners = []
    for _ in range(30):
        out = mixing([torch.zeros(16, 1, 8, 8), torch.zeros(16, 1, 8, 8)])
        box = recorder.boxes[-1]
        # exactly one member has the rectangle for every sample of the
        # batch, the other one has its complement
        matches = [i for i in range(2) if torch.equal(out.masks[:, i], box)]
        assert len(matches) == 1
        owner = matches[0]
        assert torch.equal(out.masks[:, 1 - owner], 1 - box)
        owners.append(owner)
    assert set(owners) == {0, 1}


@pytest.mark.parametrize('num_members', [3, 4])
def test_more_members(recorder, num_members):
    torch.manual_seed(0)
    mixing = CutMixing(num_members=num_members).train()
    owners = []
    for _ in range(40):
        feats = [torch.randn(16, 2, 8, 8) for _ in range(num_members)]
        out = mixing(feats)
        assert out.masks.shape == (16, num_members, 8, 8)
        assert out.masks.dtype == torch.float32
        torch.testing.assert_close(out.masks.sum(1), torch.ones(16, 8, 8))
        binary = [i for i in range(num_members) if _is_binary(out.masks[:, i])]
        assert len(binary) == 1  # exactly one owner for the whole batch
        owner = binary[0]
        owners.append(owner)
        box = recorder.boxes[-1]
        assert torch.equal(out.masks[:, owner], box)
        # the others share the complement in fixed per-sample proportions
        rest = [j for j in range(num_members) if j != owner]
        outside = (1 - box).bool()
        for b in range(16):
            if not outside[b].any():
                continue
            shares = torch.stack([out.masks[b, j][outside[b]]
                                  for j in rest])  # (M-1, P)
            assert (shares.std(1) < 1e-6).all()  # constant outside the box
            torch.testing.assert_close(shares[:, 0].sum(), torch.tensor(1.))
            torch.testing.assert_close(
                out.masks[b, rest][:, box[b].bool()],
                torch.zeros(num_members - 1, int(box[b].sum())))
        torch.testing.assert_close(out.kappa, out.masks.mean((2, 3)))
        expected = num_members * sum(out.masks[:, i:i + 1] * feats[i]
                                     for i in range(num_members))
        torch.testing.assert_close(out.features, expected)
    assert set(owners) == set(range(num_members))


def test_complement_weights_by_hand(monkeypatch):
    mixing = CutMixing(num_members=3)
    monkeypatch.setattr(mixing, 'sample_kappa',
                        lambda b, d: torch.tensor([[0.2, 0.5, 0.3]]))
    monkeypatch.setattr(mixing, 'sample_owner', lambda: 1)
    masks = mixing.sample_masks(1, 16, 16, CPU)
    box = masks[0, 1]
    assert _is_binary(box)
    # requested 0.5: side floor(16 * 0.707) = 11, span of 2 * 5 = 10 cells
    assert box.sum() <= 100
    outside = box == 0
    assert outside.any()
    torch.testing.assert_close(masks[0, 0][outside],
                               torch.full((int(outside.sum()), ), 0.4))
    torch.testing.assert_close(masks[0, 2][outside],
                               torch.full((int(outside.sum()), ), 0.6))
    assert (masks[0, 0][~outside] == 0).all()
    assert (masks[0, 2][~outside] == 0).all()


def test_complement_split_evenly_when_others_underflow(monkeypatch):
    mixing = CutMixing(num_members=3)
    monkeypatch.setattr(mixing, 'sample_kappa',
                        lambda b, d: torch.tensor([[0.25, 0.0, 0.0]]))
    monkeypatch.setattr(mixing, 'sample_owner', lambda: 0)
    masks = mixing.sample_masks(1, 8, 8, CPU)
    assert torch.isfinite(masks).all()
    torch.testing.assert_close(masks.sum(1), torch.ones(1, 8, 8))
    outside = masks[0, 0] == 0
    assert outside.sum() >= 64 - 16  # the box is at most 4x4
    assert (masks[0, 1][outside] == 0.5).all()
    assert (masks[0, 2][outside] == 0.5).all()


@pytest.mark.parametrize('alpha', [0, -0.5, None])
def test_alpha_error(alpha):
    with pytest.raises(ValueError, match='model.mixing.alpha'):
        CutMixing(alpha=alpha)
