"""SelectivePredictionMetric against hand values and scikit-learn."""
import logging
import math
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from sklearn.metrics import average_precision_score, roc_auc_score

import mmmixmo  # noqa: F401  (registers the metrics)
from mmmixmo.evaluation.metrics import SelectivePredictionMetric

# (confidence, right?): s0 .9 R, s1 .7 R, s2 .7 W (tie with s1), s3 .6 R,
# s4 .5 W, s5 .45 R
PROBS = torch.tensor([[0.9, 0.05, 0.05], [0.1, 0.7, 0.2], [0.1, 0.2, 0.7],
                      [0.6, 0.3, 0.1], [0.3, 0.5, 0.2], [0.2, 0.35, 0.45]])
LABELS = [0, 1, 0, 0, 2, 2]


def _evaluate(metric, samples):
    metric.process(None, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def test_in_evaluator_by_hand(make_samples):
    evaluator = Evaluator([
        METRICS.build(
            dict(type='SelectivePredictionMetric',
                 coverages=(0.3, 0.5, 0.8)))
    ])
    evaluator.dataset_meta = dict(classes=('a', 'b', 'c'))
    samples = make_samples(LABELS, probs=PROBS)
    evaluator.process(samples[:4])
    evaluator.process(samples[4:])
    out = evaluator.evaluate(6)
    assert list(out) == [
        'selective/auroc', 'selective/aupr_correct', 'selective/aupr_wrong',
        'selective/aurc', 'selective/acc@30', 'selective/acc@50',
        'selective/acc@80'
    ]
    # right (.9, .7, .6, .45) > wrong (.7, .5): 1 + .5 + 0 + 0 against .7,
    # 1 + 1 + 1 + 0 against .5 -> 4.5 / 8
    assert out['selective/auroc'] == pytest.approx(0.5625)
    # recall steps of .25 at precisions 1, 2/3, 3/4, 4/6
    assert out['selective/aupr_correct'] == pytest.approx(
        (1 + 2 / 3 + 3 / 4 + 4 / 6) / 4)
    # 1 - conf: .55 R, .5 W, .4 R, .3 R/W, .1 R: recall .5 at P 1/2,
    # 1 at P 2/5
    assert out['selective/aupr_wrong'] == pytest.approx(0.5 / 2 + 0.5 * 0.4)
    # coverage steps 1/6 (risk 0), 2/6 (1/3), 1/6 (1/4), 1/6 (2/5),
    # 1/6 (2/6) -> 99 / 360
    assert out['selective/aurc'] == pytest.approx(0.275)
    # the ties s1 (right), s2 (wrong) keep the index order: the 2 most
    # confident are s0, s1
    assert out['selective/acc@30'] == pytest.approx(100.0)
    assert out['selective/acc@50'] == pytest.approx(200 / 3)
    assert out['selective/acc@80'] == pytest.approx(60.0)
    # the same with scikit-learn
    correct = torch.tensor([True, True, False, True, False, True])
    conf = PROBS.max(1).values.double()
    assert out['selective/auroc'] == pytest.approx(
        roc_auc_score(correct, conf))
    assert out['selective/aupr_correct'] == pytest.approx(
        average_precision_score(correct, conf))
    assert out['selective/aupr_wrong'] == pytest.approx(
        average_precision_score(~correct, 1 - conf))


def test_random_against_independent_computations(make_samples):
    # a vanilla model (pred_score only), default coverages
    gen = torch.Generator().manual_seed(0)
    probs = torch.randn(200, 5, generator=gen).mul(2).softmax(1)
    labels = torch.randint(0, 5, (200, ), generator=gen)
    out = _evaluate(SelectivePredictionMetric(),
                    make_samples(labels, probs=probs))
    conf, pred = probs.max(1)
    conf = conf.double()
    correct = pred == labels
    assert 40 < int(correct.sum()) < 160
    assert out['selective/auroc'] == pytest.approx(
        roc_auc_score(correct, conf), abs=1e-12)
    assert out['selective/aupr_correct'] == pytest.approx(
        average_precision_score(correct, conf), abs=1e-12)
    assert out['selective/aupr_wrong'] == pytest.approx(
        average_precision_score(~correct, 1 - conf), abs=1e-12)
    # no ties: AURC = mean over k of the error rate of the top k
    assert conf.unique().numel() == 200
    wrong = (~correct[conf.argsort(descending=True)]).double()
    top_k_risk = wrong.cumsum(0) / torch.arange(1, 201)
    assert out['selective/aurc'] == pytest.approx(float(top_k_risk.mean()))
    for key, num in (('acc@80', 160), ('acc@90', 180), ('acc@95', 190)):
        assert out[f'selective/{key}'] == pytest.approx(
            100 * (1 - float(top_k_risk[num - 1])))


def test_one_class_reports_the_defined_keys(make_samples):
    labels = PROBS.argmax(1)  # all right
    with mock.patch('mmmixmo.evaluation.metrics.selective_prediction_metric.'
                    'print_log') as log:
        out = _evaluate(
            SelectivePredictionMetric(coverages=0.5, prefix='sel'),
            make_samples(labels, probs=PROBS))
    assert out == {'sel/aurc': 0.0, 'sel/acc@50': 100.0}
    assert log.call_args.kwargs['level'] == logging.WARNING
    assert '6 of 6 predictions are right' in log.call_args.args[0]


def test_results_are_small(make_samples):
    metric = SelectivePredictionMetric()
    samples = make_samples(LABELS, probs=PROBS)
    metric.process(None, [s.to_dict() for s in samples])
    # one float64 confidence and one bool per sample
    arrays = metric.results[2].record.arrays
    assert set(arrays) == {'confidence', 'correct'}
    assert arrays['confidence'].dtype == np.float64 and arrays[
        'correct'].dtype == np.bool_
    assert arrays['confidence'][2] == pytest.approx(0.7)
    assert not arrays['correct'][2]


@pytest.mark.parametrize('coverages, keys', [((0.5, 0.999, 1), [
    'acc@50', 'acc@99.9', 'acc@100'
]), (0.07, ['acc@7'])])
def test_coverage_keys(make_samples, coverages, keys):
    out = _evaluate(
        SelectivePredictionMetric(coverages),
        make_samples(LABELS, probs=PROBS))
    assert list(out)[4:] == [f'selective/{key}' for key in keys]
    assert not any(math.isnan(v) for v in out.values())


@pytest.mark.parametrize('coverages', [(0.8, 0), (1.5, ), ('0.8', ), (True, ),
                                       (0.8, 0.8), None])
def test_bad_coverages(coverages):
    with pytest.raises(ValueError, match='coverages'):
        SelectivePredictionMetric(coverages)


def test_user_mistakes(make_samples):
    sample = make_samples([0], probs=PROBS[:1])[0].to_dict()
    with pytest.raises(ValueError, match='single-label'):
        SelectivePredictionMetric().process(
            None, [dict(sample, gt_label=torch.tensor([0, 1]))])
    del sample['pred_score']
    with pytest.raises(KeyError, match='pred_score'):
        SelectivePredictionMetric().process(None, [sample])


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
def test_non_finite_pred_score_raises(make_samples, spoil, non_finite_error,
                                      value):
    samples = make_samples(LABELS, probs=PROBS)
    spoil(samples, [0, 5], 'pred_score', value)
    evaluator = Evaluator([SelectivePredictionMetric()])
    evaluator.process(samples[:3])
    evaluator.process(samples[3:])
    with pytest.raises(ValueError) as error:
        evaluator.evaluate(6)
    assert str(error.value) == non_finite_error('SelectivePredictionMetric',
                                                2, 6, 'pred_score')
