import pytest
import torch
from mmpretrain.registry import MODELS

from mmmixmo.models.necks import CutMixing, CutOrLinearMixing, LinearMixing


def binary_batches(block, steps, num_members=2):
    """How many of ``steps`` batches the binary block mixed (its owner's
    masks are 0 or 1, the linear block's Dirichlet shares never)."""
    count = 0
    for _ in range(steps):
        _, masks = block(
            [torch.randn(4, 2, 8, 8) for _ in range(num_members)])
        assert masks.shape == (4, num_members, 8, 8)
        count += bool(((masks == 0) | (masks == 1)).any())
    return count


def test_registered_with_its_two_blocks():
    block = MODELS.build(
        dict(type='CutOrLinearMixing', num_members=3, alpha=1.5, prob=0.25))
    assert isinstance(block.binary, CutMixing)
    assert isinstance(block.linear, LinearMixing)
    for child in (block.binary, block.linear):
        assert (child.num_members, child.alpha) == (3, 1.5)
    assert (block.prob, block.prob_factor) == (0.25, 1.0)


@pytest.mark.parametrize('num_members', [2, 3])
@pytest.mark.parametrize('prob,expected', [(1.0, 30), (0.0, 0)])
def test_prob_one_and_zero(num_members, prob, expected):
    block = CutOrLinearMixing(num_members=num_members, prob=prob)
    assert binary_batches(block, 30, num_members) == expected


def test_frequency_follows_prob_times_factor():
    block = CutOrLinearMixing(prob=0.5)
    assert 160 <= binary_batches(block, 400) <= 240  # binomial: +- 4 sd
    block.prob_factor = 0.4  # p = 0.2
    assert 48 <= binary_batches(block, 400) <= 112
    block.prob, block.prob_factor = 1.0, 0.0
    assert binary_batches(block, 30) == 0


@pytest.mark.parametrize('name', [
    'FMixMixing', 'CowMixMixing', 'PatchUpMixing', 'ConcatMixing', 'CutMixing'
])
def test_binary_block_from_config(name):
    block = MODELS.build(
        dict(
            type='CutOrLinearMixing',
            num_members=3,
            alpha=1.5,
            prob=1.0,
            binary=dict(type=name)))
    assert type(block.binary).__name__ == name
    assert (block.binary.num_members, block.binary.alpha) == (3, 1.5)
    assert binary_batches(block, 6, num_members=3) == 6


def test_binary_block_keeps_its_options_and_alpha():
    block = CutOrLinearMixing(
        alpha=2.0, binary=dict(type='FMixMixing', decay_power=2.0, alpha=0.5))
    assert block.binary.decay_power == 2.0
    assert (block.binary.num_members, block.binary.alpha) == (2, 0.5)
    assert block.linear.alpha == 2.0


@pytest.mark.parametrize('binary,match', [
    (dict(type='FMixMixing', num_members=3),
     'model.mixing.binary.num_members must equal model.mixing.num_members'),
    (dict(type='PatchUpMixing', patch_size=0),
     'model.mixing.binary.patch_size'),
    (dict(type='CowMixMixing', alpha=0), 'model.mixing.binary.alpha'),
])
def test_binary_errors_name_the_nested_key(binary, match):
    with pytest.raises(ValueError, match=match):
        CutOrLinearMixing(binary=binary)


def test_prob_error_names_the_key():
    for prob in (1.5, -0.1):
        with pytest.raises(
                ValueError,
                match=rf'model.mixing.prob must be in \[0, 1\], got {prob}'):
            CutOrLinearMixing(prob=prob)
