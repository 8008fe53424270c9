import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmmixmo.models.utils import MemberEncoders


def test_member_inputs_get_their_own_encoder():
    conv = nn.Conv2d(3, 8, 3, padding=1, bias=False)
    encoders = MemberEncoders(conv, 3)
    assert encoders.convs[0] is conv and len(encoders.convs) == 3
    assert sum(p.numel() for p in encoders.parameters()) == 3 * 8 * 3 * 9
    assert not torch.equal(encoders.convs[0].weight, encoders.convs[1].weight)
    inputs = torch.randn(2, 3, 3, 5, 5)
    # the M member images arrive stacked on the channels
    outputs = encoders(inputs.flatten(1, 2))
    assert len(outputs) == 3
    for i, output in enumerate(outputs):
        assert torch.equal(output, encoders.convs[i](inputs[:, i]))


@pytest.mark.parametrize('bias', [False, True])
def test_shared_images_use_the_summed_kernels(bias):
    encoders = MemberEncoders(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=bias), 2)
    images = torch.randn(4, 3, 9, 9)
    folded = encoders(images)
    members = encoders(torch.cat([images, images], dim=1))
    torch.testing.assert_close(folded, members[0] + members[1])
    convs = encoders.convs
    weight = convs[0].weight + convs[1].weight
    summed_bias = convs[0].bias + convs[1].bias if bias else None
    expected = F.conv2d(images, weight, summed_bias, stride=2, padding=1)
    assert torch.equal(folded, expected)
