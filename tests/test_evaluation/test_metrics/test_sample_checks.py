"""The checks of the predicted samples shared by the metrics."""
import math

import numpy as np
import pytest
import torch

from mmmixmo.evaluation.metrics.sample_checks import (check_finite,
                                                      mark_non_finite,
                                                      single_label)

FIELDS = ('pred_score', 'member_logits')


def test_mark_non_finite():
    finite = dict(pred_score=torch.tensor([1.0, 0.0]),
                  member_logits=torch.tensor([[-1e30, 3.0], [0.0, 1e30]]))
    # exact zeros and huge values are finite: the result is left as is
    assert mark_non_finite(dict(a=1), finite, FIELDS) == dict(a=1)
    for value in (math.nan, math.inf, -math.inf):
        sample = dict(finite, member_logits=torch.tensor([[0.0, value]] * 2))
        result = dict(a=1)
        assert mark_non_finite(result, sample, FIELDS) is result
        assert result == dict(a=1, non_finite=('member_logits', ))
    # only the fields read, in their order; absent ones skipped; numpy,
    # lists and int tensors too
    sample = dict(pred_score=np.array([math.nan, 1.0]),
                  member_logits=[[math.inf, 0.0]],
                  ensemble_logits=torch.tensor([math.nan]),
                  pred_label=torch.tensor([2]))
    fields = ('member_logits', 'pred_score', 'gt_score')
    assert mark_non_finite({}, sample, fields) == dict(
        non_finite=('member_logits', 'pred_score'))
    assert mark_non_finite({}, sample, ('pred_label', )) == {}


def test_check_finite_counts_every_result():
    results = [dict(x=0)] * 295 + [
        dict(x=0, non_finite=('pred_score', )),
        dict(x=0, non_finite=('pred_score', 'member_logits')),
        dict(x=0, non_finite=('member_logits', )),
        dict(x=0, non_finite=('member_logits', )),
        3,  # a foreign metric's result: not a dict, no mark
    ]
    with pytest.raises(ValueError) as error:
        check_finite(results, 'OODMetric')
    assert str(error.value) == (
        'OODMetric: NaN or inf in `member_logits` of 3 of 300 samples, '
        '`pred_score` of 2 of 300 samples; no metric is computed from them: '
        'check the model/checkpoint (a diverged training?)')
    check_finite(results[:295] + [3], 'OODMetric')
    check_finite([], 'OODMetric')


def test_single_label():
    assert single_label(dict(gt_label=np.array([2])), 'M').tolist() == [2]
    assert single_label(dict(gt_label=torch.tensor(1)), 'M').dtype == \
        torch.int64
    with pytest.raises(ValueError, match='^M is single-label.* got 2 values'):
        single_label(dict(gt_label=torch.tensor([0, 1])), 'M')
