import torch

from mmmixmo.models.utils import cutmix_box_masks


def test_matches_the_cutmix_rule():
    height, width = 12, 20
    area = torch.linspace(0, 1, 40)
    torch.manual_seed(3)
    masks = cutmix_box_masks(area, height, width)
    assert masks.shape == (40, height, width)
    assert masks.dtype == torch.float32
    torch.manual_seed(3)
    centre_y = torch.randint(0, height, (40, )).tolist()
    centre_x = torch.randint(0, width, (40, )).tolist()
    for i, (y, x) in enumerate(zip(centre_y, centre_x)):
        half_h = int(height * area[i].item()**0.5) // 2
        half_w = int(width * area[i].item()**0.5) // 2
        expected = torch.zeros(height, width)
        expected[max(y - half_h, 0):y + half_h,
                 max(x - half_w, 0):x + half_w] = 1
        assert torch.equal(masks[i], expected), i


def test_corner_boxes_by_hand(monkeypatch):
    # requested area 0.25 on 32x32: side 16, span [c - 8, c + 8)
    centres = [torch.tensor([0, 31, 5]), torch.tensor([0, 31, 31])]
    monkeypatch.setattr(torch, 'randint',
                        lambda *args, **kwargs: centres.pop(0))
    masks = cutmix_box_masks(torch.full((3, ), 0.25), 32, 32)
    expected = torch.zeros(3, 32, 32)
    expected[0, 0:8, 0:8] = 1  # top-left: 8x8
    expected[1, 23:32, 23:32] = 1  # bottom-right: 9x9
    expected[2, 0:13, 23:32] = 1  # right border: 13x9
    assert torch.equal(masks, expected)


def test_extreme_areas():
    masks = cutmix_box_masks(torch.tensor([0.0, 1.0]), 8, 8)
    assert masks[0].sum() == 0
    # full sides: at least a quarter of the grid whatever the centre
    assert 16 <= masks[1].sum() <= 64


def test_mean_area_beta_2_2():
    """Clipping shrinks the mean area of Beta(2, 2) boxes to about 0.31."""
    area = torch.distributions.Beta(2., 2.).sample((20000, ))
    real = cutmix_box_masks(area, 32, 32).mean((1, 2))
    assert abs(real.mean().item() - 0.31) <= 0.01
    assert (real <= area + 1e-6).all()
