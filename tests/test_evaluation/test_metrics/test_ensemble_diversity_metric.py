"""EnsembleDiversityMetric in an mmengine Evaluator, against hand values."""
import logging
import math
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS

import mmmixmo  # noqa: F401  (registers the metrics)
from mmmixmo.evaluation.metrics import EnsembleDiversityMetric


def _evaluate(metric, samples):
    metric.process(None, [
        s if isinstance(s, dict) else s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def test_in_evaluator_by_hand(member_logits, head_labels, make_samples):
    evaluator = Evaluator(
        [METRICS.build(dict(type='EnsembleDiversityMetric'))])
    samples = make_samples(head_labels, member_logits)
    evaluator.process(samples[:3])
    evaluator.process(samples[3:])
    out = evaluator.evaluate(6)
    assert out == {
        'diversity/head0_top1': pytest.approx(50.0),
        'diversity/head1_top1': pytest.approx(50.0),
        # 66.667 - (50 + 50) / 2
        'diversity/ensemble_gain': pytest.approx(100 / 6),
        # wrong: h0 on 3, 4, 5; h1 on 1, 4, 5: N00 = 2, N01 + N10 = 2
        'diversity/ratio_errors': pytest.approx(1.0),
        # samples 1, 3, 4 differ
        'diversity/disagreement': pytest.approx(0.5),
    }


def test_ensemble_prediction_source(member_logits, head_labels, make_samples):
    # pred_score wins over the mean head logits: every ensemble prediction
    # wrong -> gain = 0 - 50.
    samples = make_samples(head_labels, member_logits)
    for sample, label in zip(samples, head_labels):
        score = torch.full((3, ), 0.1)
        score[(label + 1) % 3] = 0.8
        sample.set_pred_score(score)
    out = _evaluate(EnsembleDiversityMetric(), samples)
    assert out['diversity/ensemble_gain'] == pytest.approx(-50.0)
    # Without pred_score, pred_label: all right -> gain = 100 - 50.
    samples = [s.to_dict() for s in make_samples(head_labels, member_logits)]
    for sample, label in zip(samples, head_labels):
        sample['pred_label'] = torch.tensor([label])
        del sample['pred_score']
    out = _evaluate(EnsembleDiversityMetric(), samples)
    assert out['diversity/ensemble_gain'] == pytest.approx(50.0)


def test_three_heads_keys(make_samples):
    # head preds per sample (labels all 0): [1,1,1], [1,0,1], [0,1,1], [0,0,0]
    preds = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 1], [0, 0, 0]])
    member_logits = torch.zeros(4, 3, 3).scatter_(2, preds[..., None], 1.0)
    out = _evaluate(
        EnsembleDiversityMetric(prefix='div'),
        make_samples([0, 0, 0, 0], member_logits))
    assert list(out) == [
        'div/head0_top1', 'div/head1_top1', 'div/head2_top1',
        'div/ensemble_gain', 'div/ratio_errors', 'div/disagreement'
    ]
    assert [out[f'div/head{i}_top1'] for i in range(3)] == [50., 50., 25.]
    assert out['div/ratio_errors'] == pytest.approx(1.0)
    # (0,1): 2/4, (0,2): 1/4, (1,2): 1/4
    assert out['div/disagreement'] == pytest.approx(1 / 3)


def test_single_output_model_has_no_keys(member_logits, head_labels,
                                         make_samples):
    # Any mmpretrain classifier: no member_logits -> no keys (not NaN).
    probs = member_logits.mean(1).softmax(1)
    evaluator = Evaluator([EnsembleDiversityMetric()])
    evaluator.process(make_samples(head_labels, probs=probs))
    assert evaluator.evaluate(6) == {}
    # member_logits with M = 1 -> no keys either.
    evaluator.process(make_samples(head_labels, member_logits[:, :1]))
    assert evaluator.evaluate(6) == {}


def test_ratio_errors_absent_when_undefined(make_samples):
    # Heads never wrong together: N00 = 0 -> key absent, warning logged.
    member_logits = torch.tensor([[[1., 0.], [0., 1.]], [[0., 1.], [1., 0.]],
                                  [[1., 0.], [1., 0.]]])
    with mock.patch(
            'mmmixmo.evaluation.metrics.ensemble_diversity_metric.print_log'
    ) as log:
        out = _evaluate(EnsembleDiversityMetric(),
                        make_samples([0, 0, 0], member_logits))
    assert 'diversity/ratio_errors' not in out
    assert out['diversity/disagreement'] == pytest.approx(2 / 3)
    assert log.call_args.kwargs['level'] == logging.WARNING


def test_results_are_small_per_sample(member_logits, head_labels,
                                      make_samples):
    # only the label and argmax indices, one int64 array: what ranks gather
    metric = EnsembleDiversityMetric()
    metric.process(None, [
        s.to_dict() for s in make_samples(head_labels, member_logits)])
    assert len(metric.results) == 6
    rows = metric.results[0].record.arrays['rows']
    assert all(r.record.arrays['rows'] is rows for r in metric.results)
    assert rows.dtype == np.int64 and rows.shape == (6, 4)
    assert rows[metric.results[1].index].tolist() == [1, 1, 1, 2]
    stacked = EnsembleDiversityMetric.stack(metric.results)
    assert stacked['head_preds'].shape == (6, 2)
    assert stacked['pred_label'].tolist() == [0, 1, 2, 0, 2, 0]
    assert stacked['gt_label'].tolist() == head_labels


def test_user_mistakes(member_logits, make_samples):
    samples = make_samples([0, 1], member_logits[:2])
    samples += make_samples([0], probs=torch.tensor([[0.5, 0.3, 0.2]]))
    with pytest.raises(ValueError, match='member_logits.* 2 of 3'):
        _evaluate(EnsembleDiversityMetric(), samples)
    sample = samples[0].to_dict()
    with pytest.raises(ValueError, match='single-label'):
        EnsembleDiversityMetric().process(
            None, [dict(sample, gt_label=torch.tensor([0, 1]))])
    del sample['pred_score']
    with pytest.raises(KeyError, match='pred_score'):
        EnsembleDiversityMetric().process(None, [sample])


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize('field', ['pred_score', 'member_logits'])
def test_non_finite_input_raises(member_logits, head_labels, make_samples,
                                 spoil, non_finite_error, field, value):
    samples = make_samples(head_labels, member_logits)
    spoil(samples, [1, 3, 5], field, value)
    evaluator = Evaluator([EnsembleDiversityMetric()])
    evaluator.process(samples[:2])
    evaluator.process(samples[2:])
    with pytest.raises(ValueError) as error:
        evaluator.evaluate(6)
    assert str(error.value) == non_finite_error('EnsembleDiversityMetric', 3,
                                                6, field)


def test_non_finite_pred_label_raises(member_logits, head_labels,
                                      make_samples, non_finite_error):
    # read when there is no pred_score
    samples = [s.to_dict() for s in make_samples(head_labels, member_logits)]
    for sample, label in zip(samples, head_labels):
        sample['pred_label'] = torch.tensor([float(label)])
        del sample['pred_score']
    samples[4]['pred_label'] = torch.tensor([math.nan])
    with pytest.raises(ValueError) as error:
        _evaluate(EnsembleDiversityMetric(), samples)
    assert str(error.value) == non_finite_error('EnsembleDiversityMetric', 1,
                                                6, 'pred_label')
