"""The checks of the predicted samples shared by the metrics."""
import math

import numpy as np
import pytest
import torch

from mmmixmo.evaluation.metrics import (BatchAccuracy, CalibrationMetric,
                                        ConformalMetric, CorruptionMetric,
                                        EnsembleDiversityMetric,
                                        InDistributionMetric, OODMetric,
                                        SelectivePredictionMetric)
from mmmixmo.evaluation.metrics.sample_checks import (batch_labels,
                                                      mark_non_finite,
                                                      missing_prediction,
                                                      read_field,
                                                      read_scores,
                                                      single_label)
from mmmixmo.evaluation.metrics.wrapper_metric import WrapperMetric

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


def test_single_label():
    assert single_label(dict(gt_label=np.array([2])), 'M').tolist() == [2]
    assert single_label(dict(gt_label=torch.tensor(1)), 'M').dtype == \
        torch.int64
    with pytest.raises(ValueError, match='^M is single-label.* got 2 values'):
        single_label(dict(gt_label=torch.tensor([0, 1])), 'M')


def test_read_field_marks_rows():
    samples = [
        dict(member_logits=torch.tensor([[1.0, 2.0], [3.0, 4.0]])),
        dict(),
        # finite, but its sum overflows: checked element-wise, not marked
        dict(member_logits=torch.tensor([[3e38, 3e38], [0.0, 0.0]])),
        dict(member_logits=torch.tensor([[0.0, -math.inf], [0.0, 0.0]])),
    ]
    results = [dict(), dict(), dict(), dict(non_finite=('pred_score', ))]
    index, values = read_field(samples, 'member_logits', results)
    assert index == [0, 2, 3] and values.shape == (3, 2, 2)
    assert values.untyped_storage().data_ptr() != \
        samples[0]['member_logits'].untyped_storage().data_ptr()
    assert results == [{}, {}, {},
                       dict(non_finite=('pred_score', 'member_logits'))]
    assert read_field(samples, 'pred_score', results) == ([], None)


def test_batch_labels():
    samples = [dict(gt_label=torch.tensor([2])), dict(gt_label=np.array(1)),
               dict(gt_label=3)]
    labels = batch_labels(samples, 'M')
    assert labels.dtype == torch.int64 and labels.tolist() == [2, 1, 3]
    assert batch_labels(samples[:1] * 2, 'M').tolist() == [2, 2]
    assert batch_labels([], 'M').shape == (0, )
    with pytest.raises(ValueError, match='^M is single-label.* got 0 values'):
        batch_labels(samples + [dict(gt_label=torch.tensor([]))], 'M')


def test_read_scores():
    samples = [dict(gt_label=torch.tensor([2]), pred_score=torch.ones(3)),
               dict(gt_label=1, pred_score=torch.tensor([0., math.nan, 1.]))]
    labels, marks, scores = read_scores(samples, 'M')
    assert labels.tolist() == [2, 1] and scores.shape == (2, 3)
    assert torch.equal(scores[0], torch.ones(3))
    assert marks == [{}, dict(non_finite=('pred_score', ))]
    with pytest.raises(KeyError, match='^"M needs the `pred_score`'):
        read_scores(samples + [dict(gt_label=0, pred_label=0)], 'M')


@pytest.mark.parametrize('metric', [
    BatchAccuracy, CalibrationMetric, EnsembleDiversityMetric,
    SelectivePredictionMetric, lambda: OODMetric(scores='max_prob')
])
def test_one_message_without_predictions(metric):
    # one helper writes it for every metric
    metric = metric()
    name = type(metric).__name__
    assert str(missing_prediction(name)) == str(
        KeyError(f"{name} needs the `pred_score` of a classifier run with "
                 "mode='predict'"))
    with pytest.raises(KeyError) as error:
        metric.process(None, [dict(gt_label=torch.tensor([0]), is_ood=False)])
    assert str(error.value) == str(missing_prediction(name))


def test_wrappers_share_one_base():
    for wrapper in (InDistributionMetric(dict(type='Accuracy')),
                    CorruptionMetric([dict(type='Accuracy'),
                                      dict(type='ConformalMetric')])):
        assert isinstance(wrapper, WrapperMetric)
        wrapper.dataset_meta = dict(classes=('a', 'b'))
        assert all(m.dataset_meta == dict(classes=('a', 'b'))
                   for m in wrapper.metrics)
    assert isinstance(wrapper.metrics[1], ConformalMetric)
