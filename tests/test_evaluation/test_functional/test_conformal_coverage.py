"""Coverage of prediction sets against hand computations."""
import math

import torch

from mmmixmo.evaluation.functional import (SET_SIZE_BUCKETS, set_coverage,
                                           set_sizes, size_stratified_coverage)

# K = 4: sets {0} y 0 (covered), {0, 1} y 2, {} y 1, {1, 2, 3} y 3
# (covered), {2} y 1, {0, 1, 2, 3} y 0 (covered)
SETS = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 1, 1, 1],
                     [0, 0, 1, 0], [1, 1, 1, 1]]).bool()
LABELS = torch.tensor([0, 2, 1, 3, 1, 0])


def test_by_hand():
    assert set_sizes(SETS).tolist() == [1, 2, 0, 3, 1, 4]
    assert set_coverage(SETS, LABELS) == 0.5
    # size 0: s2 (never covered); 1: s0 R, s4 W; 2-3: s1 W, s3 R; 4-10: s5 R
    assert size_stratified_coverage(SETS, LABELS) == {
        '0': 0.0,
        '1': 0.5,
        '2-3': 0.5,
        '4-10': 1.0
    }


def test_bucket_edges():
    # sets of the first n of 1200 classes; label 0 is in every set, 1199
    # only in the full one
    sizes = [10, 11, 100, 101, 1000, 1001, 1200]
    labels = torch.tensor([0, 1199, 0, 0, 1199, 0, 1199])
    sets = torch.arange(1200) < torch.tensor(sizes)[:, None]
    assert set_sizes(sets).tolist() == sizes
    # covered: yes, no, yes, yes, no, yes, yes
    assert set_coverage(sets, labels) == 5 / 7
    assert size_stratified_coverage(sets, labels) == {
        '4-10': 1.0,
        '11-100': 0.5,
        '101-1000': 0.5,
        '>1000': 1.0
    }
    assert [name for name, _, _ in SET_SIZE_BUCKETS] == [
        '0', '1', '2-3', '4-10', '11-100', '101-1000', '>1000'
    ]


def test_no_sample():
    sets = torch.zeros(0, 3, dtype=torch.bool)
    assert math.isnan(set_coverage(sets, torch.zeros(0).long()))
    assert size_stratified_coverage(sets, torch.zeros(0).long()) == {}
