import pytest
import torch
from torch import nn

from mmmixmo.models.utils import MemberEncoders


def test_members_are_independent_copies():
    enc = MemberEncoders(nn.Conv2d(3, 8, 3, padding=1, bias=False), 3)
    assert enc.num_members == 3
    assert not torch.equal(enc.convs[0].weight, enc.convs[1].weight)
    out = enc(torch.randn(2, 3, 3, 5, 5))
    assert len(out) == 3 and out[0].shape == (2, 8, 5, 5)


@pytest.mark.parametrize('bias', [False, True])
def test_fold_equals_sum_of_members(bias):
    torch.manual_seed(0)
    enc = MemberEncoders(nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=bias),
                         2)
    x = torch.randn(4, 3, 9, 9)
    unfolded = sum(enc(torch.stack([x, x], dim=1)))
    assert torch.allclose(enc.forward_folded(x), unfolded, atol=1e-5)
    folded = enc.fold()
    assert isinstance(folded, nn.Conv2d)
    assert torch.allclose(folded(x), unfolded, atol=1e-5)


def test_rejects_non_conv_and_bad_shapes():
    with pytest.raises(TypeError):
        MemberEncoders(nn.Linear(3, 3), 2)
    enc = MemberEncoders(nn.Conv2d(3, 4, 1), 2)
    with pytest.raises(ValueError, match=r'\(B, 2, C, H, W\)'):
        enc(torch.randn(1, 3, 3, 4, 4))
