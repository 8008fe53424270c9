import pytest
import torch

from mmmixmo.models.necks import CutMixing


@pytest.mark.parametrize(
    'owner,boxes',
    [
        # kappa_0 = 0.25: side floor(32 * 0.5) = 16, span [c - 8, c + 8)
        (0, [(slice(0, 8), slice(23, 32)), (slice(23, 32), slice(0, 8))]),
        # kappa_1 = 0.75: side floor(32 * 0.866) = 27, span [c - 13, c + 13)
        (1, [(slice(0, 13), slice(18, 32)), (slice(18, 32), slice(0, 13))]),
    ])
def test_corner_boxes_by_hand(monkeypatch, owner, boxes):
    """Centres (y, x) at the corners (0, 31) and (31, 0)."""
    block = CutMixing()
    monkeypatch.setattr(block, 'sample_kappa',
                        lambda *args: torch.tensor([[0.25, 0.75]] * 2))
    # drawn in this order: the owner, the y centres, the x centres
    draws = [[owner], [0, 31], [31, 0]]
    monkeypatch.setattr(torch, 'randint',
                        lambda *args, **kwargs: torch.tensor(draws.pop(0)))
    l0, l1 = torch.full((2, 1, 32, 32), 4.), torch.full((2, 1, 32, 32), 8.)
    mixed, masks = block([l0, l1])
    assert draws == []
    box = torch.zeros(2, 32, 32)
    for i, (rows, cols) in enumerate(boxes):
        box[i, rows, cols] = 1
    # clipped to 8 x 9 = 72 cells, or to 13 x 14 = 182 cells
    assert box.sum().item() == [144, 364][owner]
    assert torch.equal(masks[:, owner], box)
    assert torch.equal(masks[:, 1 - owner], 1 - box)
    # 2 * l_owner inside the box, 2 * l_other outside
    inside, outside = [(8., 16.), (16., 8.)][owner]
    expected = torch.where(box.bool(), inside, outside).unsqueeze(1)
    assert torch.equal(mixed, expected)
