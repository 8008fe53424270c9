"""Tests of EnsembleDiversityMetric and its pure functions by hand."""
import logging
from unittest import mock

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

import mmmixmo  # noqa: F401  (registers the metrics)
from mmmixmo.evaluation.functional import (pairwise_disagreement,
                                           ratio_errors, top1_accuracy)
from mmmixmo.evaluation.metrics import EnsembleDiversityMetric

# Two heads, six samples, labels 0, 1, 2, 0, 1, 2.
# head 0 predicts 0, 1, 2, 1, 2, 0 (right on 0, 1, 2) -> 50 %
# head 1 predicts 0, 2, 2, 0, 0, 0 (right on 0, 2, 3) -> 50 %
# mean logits predict 0, 1, 2, 0, 2, 0 (right on 0..3) -> 66.667 %
HEAD_LOGITS = torch.tensor([
    [[2., 0., 0.], [2., 0., 0.]],
    [[0., 3., 0.], [0., 0., 1.]],
    [[0., 0., 2.], [0., 0., 2.]],
    [[0., 1., 0.], [3., 0., 0.]],
    [[0., 0., 2.], [1., 0., 0.]],
    [[2., 0., 0.], [2., 0., 0.]],
])
LABELS = [0, 1, 2, 0, 1, 2]


def _samples(head_logits, labels, probs=None):
    samples = []
    for i, label in enumerate(labels):
        sample = DataSample().set_gt_label(int(label))
        if head_logits is not None:
            sample.set_field(head_logits[i], 'head_logits')
            sample.set_pred_score(head_logits[i].mean(0).softmax(0))
        else:
            sample.set_pred_score(probs[i])
        samples.append(sample)
    return samples


def test_top1_accuracy_percent():
    assert top1_accuracy(torch.tensor([0, 1, 2, 1]),
                         torch.tensor([0, 1, 0, 0])) == pytest.approx(50.0)


def test_ratio_errors_two_heads_by_hand():
    preds = HEAD_LOGITS.argmax(-1)
    # wrong0 = F F F T T T, wrong1 = F T F F T T
    # N00 = 2 (samples 4, 5); N01 + N10 = 2 (samples 1, 3) -> 1.0
    assert ratio_errors(preds, torch.tensor(LABELS)) == pytest.approx(1.0)


def test_ratio_errors_mean_over_pairs_and_skips_n00_zero():
    labels = torch.zeros(4, dtype=torch.long)
    # wrong: h0 T T F F, h1 T F T F, h2 T T T F
    # (0,1): N00 1, one-wrong 2 -> 2; (0,2): N00 2, 1 -> 0.5;
    # (1,2): N00 2, 1 -> 0.5; mean = 1.0
    preds = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 1], [0, 0, 0]])
    assert ratio_errors(preds, labels) == pytest.approx(1.0)
    # wrong: h0 T T F F, h1 T F T F, h2 F F F T
    # (0,1) -> 2; (0,2) and (1,2) have N00 = 0 and are skipped -> 2.0
    preds = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert ratio_errors(preds, labels) == pytest.approx(2.0)
    # no pair ever wrong together -> undefined
    preds = torch.tensor([[1, 0], [0, 1], [0, 0], [0, 0]])
    assert ratio_errors(preds, labels) is None


def test_pairwise_disagreement_by_hand():
    assert pairwise_disagreement(HEAD_LOGITS.argmax(-1)) == pytest.approx(
        0.5)  # samples 1, 3, 4 differ out of 6
    # (0,1): 2/4, (0,2): 2/4, (1,2): 3/4 -> mean 7/12
    preds = torch.tensor([[0, 0, 1], [1, 1, 1], [2, 0, 2], [0, 1, 2]])
    assert pairwise_disagreement(preds) == pytest.approx(7 / 12)


def test_metric_in_evaluator_by_hand():
    evaluator = Evaluator(
        [METRICS.build(dict(type='EnsembleDiversityMetric'))])
    samples = _samples(HEAD_LOGITS, LABELS)
    evaluator.process(samples[:3])
    evaluator.process(samples[3:])
    out = evaluator.evaluate(6)
    assert set(out) == {
        'diversity/head0_top1', 'diversity/head1_top1',
        'diversity/ensemble_gain', 'diversity/ratio_errors',
        'diversity/disagreement'
    }
    assert out['diversity/head0_top1'] == pytest.approx(50.0)
    assert out['diversity/head1_top1'] == pytest.approx(50.0)
    # 66.667 - (50 + 50) / 2
    assert out['diversity/ensemble_gain'] == pytest.approx(100 / 6)
    assert out['diversity/ratio_errors'] == pytest.approx(1.0)
    assert out['diversity/disagreement'] == pytest.approx(0.5)


def test_ensemble_accuracy_comes_from_pred_score():
    # A pred_score that disagrees with the mean head logits wins: every
    # ensemble prediction wrong -> gain = 0 - 50.
    metric = EnsembleDiversityMetric()
    samples = _samples(HEAD_LOGITS, LABELS)
    for sample, label in zip(samples, LABELS):
        score = torch.full((3, ), 0.1)
        score[(label + 1) % 3] = 0.8
        sample.set_pred_score(score)
    metric.process(None, [s.to_dict() for s in samples])
    out = metric.evaluate(6)
    assert out['diversity/ensemble_gain'] == pytest.approx(-50.0)


def test_three_heads_keys():
    head_logits = torch.zeros(4, 3, 3)
    # head preds per sample (labels all 0): [1,1,1], [1,0,1], [0,1,1], [0,0,0]
    preds = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 1], [0, 0, 0]])
    head_logits.scatter_(2, preds[..., None], 1.0)
    metric = EnsembleDiversityMetric(prefix='div')
    metric.process(None, [s.to_dict()
                          for s in _samples(head_logits, [0, 0, 0, 0])])
    out = metric.evaluate(4)
    assert out['div/head0_top1'] == pytest.approx(50.0)
    assert out['div/head1_top1'] == pytest.approx(50.0)
    assert out['div/head2_top1'] == pytest.approx(25.0)
    assert out['div/ratio_errors'] == pytest.approx(1.0)
    # (0,1): 2/4, (0,2): 1/4, (1,2): 1/4
    assert out['div/disagreement'] == pytest.approx(1 / 3)
    assert 'div/head3_top1' not in out


def test_single_output_model_has_no_keys():
    # Any mmpretrain classifier: no head_logits -> no keys (not NaN).
    probs = HEAD_LOGITS.mean(1).softmax(1)
    evaluator = Evaluator([EnsembleDiversityMetric()])
    evaluator.process(_samples(None, LABELS, probs=probs))
    assert evaluator.evaluate(6) == {}
    # head_logits with M = 1 -> no keys either.
    evaluator.process(_samples(HEAD_LOGITS[:, :1], LABELS))
    assert evaluator.evaluate(6) == {}


def test_ratio_errors_absent_when_undefined():
    # Heads never wrong together: N00 = 0 -> key absent, warning logged.
    head_logits = torch.tensor([[[1., 0.], [0., 1.]], [[0., 1.], [1., 0.]],
                                [[1., 0.], [1., 0.]]])
    metric = EnsembleDiversityMetric()
    metric.process(None, [s.to_dict() for s in _samples(head_logits,
                                                        [0, 0, 0])])
    with mock.patch(
            'mmmixmo.evaluation.metrics.ensemble_diversity_metric.print_log'
    ) as log:
        out = metric.evaluate(3)
    assert 'diversity/ratio_errors' not in out
    assert out['diversity/disagreement'] == pytest.approx(2 / 3)
    assert log.call_args.kwargs['level'] == logging.WARNING


def test_mixed_head_logits_raises():
    metric = EnsembleDiversityMetric()
    samples = _samples(HEAD_LOGITS[:2], LABELS[:2])
    samples += _samples(None, [0], probs=torch.tensor([[0.5, 0.3, 0.2]]))
    metric.process(None, [s.to_dict() for s in samples])
    with pytest.raises(ValueError, match='head_logits'):
        metric.evaluate(3)


def test_results_are_per_sample_cpu():
    metric = EnsembleDiversityMetric()
    metric.process(None, [s.to_dict() for s in _samples(HEAD_LOGITS, LABELS)])
    assert len(metric.results) == 6
    assert metric.results[1]['head_preds'].tolist() == [1, 2]
    assert metric.results[1]['pred_label'].tolist() == [1]
    assert all(r['head_preds'].device.type == 'cpu' for r in metric.results)
