"""Tests of CalibrationMetric and its pure functions against hand values."""
import logging
import math
from unittest import mock

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

import mmmixmo  # noqa: F401  (registers the metrics)
from mmmixmo.evaluation.functional import (brier_score,
                                           ensemble_logits_from_probs,
                                           expected_calibration_error,
                                           fit_temperature,
                                           negative_log_likelihood,
                                           temperature_scaled_nll,
                                           two_fold_temperature_scaling)
from mmmixmo.evaluation.metrics import CalibrationMetric

# Four samples, three classes; true-class probabilities 0.7, 0.3, 0.8, 0.3.
PROBS = torch.tensor([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8],
                      [0.6, 0.3, 0.1]])
LABELS = torch.tensor([0, 2, 2, 1])


def _logits_a00(a, num):
    """``num`` rows of logits ``(a, 0, 0)``."""
    logits = torch.zeros(num, 3, dtype=torch.float64)
    logits[:, 0] = a
    return logits


def test_nll_by_hand():
    # -(ln .7 + ln .3 + ln .8 + ln .3) / 4
    #   = (0.356675 + 1.203973 + 0.223144 + 1.203973) / 4 = 0.746941
    assert negative_log_likelihood(PROBS, LABELS) == pytest.approx(
        0.746941, abs=1e-6)
    # From logits: log-probabilities are valid logits (T = 1).
    assert temperature_scaled_nll(PROBS.log(), LABELS,
                                  1.0) == pytest.approx(0.746941, abs=1e-6)
    # A zero true-class probability is clamped: finite, -log(1.18e-38).
    nll = negative_log_likelihood(
        torch.tensor([[1.0, 0.0]]), torch.tensor([1]))
    assert nll == pytest.approx(87.3365, abs=1e-3)


def test_brier_by_hand():
    # rows: .09+.04+.01, .04+.25+.49, .01+.01+.04, .36+.49+.01
    #     = 0.14, 0.78, 0.06, 0.86 -> mean 0.46
    assert brier_score(PROBS, LABELS) == pytest.approx(0.46, abs=1e-9)
    # Not divided by K: range [0, 2].
    one_hot = torch.tensor([[1.0, 0.0, 0.0]])
    assert brier_score(one_hot, torch.tensor([0])) == 0.0
    assert brier_score(one_hot, torch.tensor([1])) == pytest.approx(2.0)


def test_ece_perfectly_calibrated_is_zero():
    # 10 samples at confidence 0.8, exactly 8 right.
    probs = torch.tensor([[0.8, 0.1, 0.1]]).repeat(10, 1)
    labels = torch.tensor([0] * 8 + [1, 2])
    assert expected_calibration_error(probs, labels) == pytest.approx(
        0.0, abs=1e-6)


def test_ece_over_confident_by_hand():
    # 4 samples at 0.9 (bin 13), 2 right: |0.5 - 0.9| * 4/6 = 0.26667
    # 2 samples at 0.7 (bin 10), 1 right: |0.5 - 0.7| * 2/6 = 0.06667
    probs = torch.tensor([[0.9, 0.05, 0.05]] * 4 + [[0.15, 0.7, 0.15]] * 2)
    labels = torch.tensor([0, 0, 1, 2, 1, 0])
    assert expected_calibration_error(probs, labels) == pytest.approx(
        1 / 3, abs=1e-6)


def test_ece_averages_within_bins_and_num_bins():
    # 0.9 x2 right (bin 13) and 0.7 x2 wrong (bin 10):
    # 15 bins: 2/4 * |1 - 0.9| + 2/4 * |0 - 0.7| = 0.05 + 0.35 = 0.4
    # 1 bin: |acc 0.5 - conf 0.8| = 0.3
    probs = torch.tensor([[0.9, 0.05, 0.05]] * 2 + [[0.7, 0.2, 0.1]] * 2)
    labels = torch.tensor([0, 0, 1, 1])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.4)
    assert expected_calibration_error(
        probs, labels, num_bins=1) == pytest.approx(0.3)
    # Same bin (0.9333, 1]: conf 0.95 right, 0.99 wrong -> |0.5 - 0.97|.
    probs = torch.tensor([[0.95, 0.05], [0.99, 0.01]])
    assert expected_calibration_error(
        probs, torch.tensor([0, 1])) == pytest.approx(0.47)


def test_ece_bins_are_right_closed():
    # 2 bins (0, .5], (.5, 1]; conf 0.5 right, conf 0.75 wrong.
    # right-closed: 1/2 * |1 - .5| + 1/2 * |0 - .75| = 0.625
    # (left-closed would put both in one bin: |0.5 - 0.625| = 0.125)
    probs = torch.tensor([[0.5, 0.5], [0.75, 0.25]])
    assert expected_calibration_error(
        probs, torch.tensor([0, 1]), num_bins=2) == pytest.approx(0.625)


def test_fit_temperature_closed_form():
    # Logits (a, 0, 0); 6 of 8 samples are class 0. The NLL is minimal when
    # softmax gives p0 = 6/8, i.e. e^(a/T) / (e^(a/T) + 2) = 0.75,
    # a / T = ln 6, T = a / ln 6.
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 2])
    # over-confident (a = 4): T = 4 / 1.791759 = 2.232443 > 1
    t_over = fit_temperature(_logits_a00(4.0, 8), labels)
    assert t_over == pytest.approx(2.232443, rel=1e-5)
    assert t_over > 1
    # perfectly calibrated (a = ln 6, p0 = 0.75 already): T = 1
    assert fit_temperature(_logits_a00(math.log(6), 8),
                           labels) == pytest.approx(1.0, rel=1e-5)
    # under-confident (a = ln 6 / 2): T = 0.5
    assert fit_temperature(_logits_a00(math.log(6) / 2, 8),
                           labels) == pytest.approx(0.5, rel=1e-5)
    # all right: the NLL keeps decreasing as T -> 0: lower end e^-3
    assert fit_temperature(_logits_a00(1.0, 4),
                           torch.zeros(4, dtype=torch.long)) == pytest.approx(
                               math.exp(-3), rel=1e-5)


def _two_fold_case():
    """12 samples with logits (5, 0, 0): 4/6 right in half A, 5/6 in B."""
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    labels = torch.empty(12, dtype=torch.long)
    labels[perm[:6]] = torch.tensor([0, 0, 0, 0, 1, 2])
    labels[perm[6:]] = torch.tensor([0, 0, 0, 0, 0, 1])
    return _logits_a00(5.0, 12), labels


def test_two_fold_temperature_scaling_by_hand():
    # A half with accuracy q fits e^(a/T) = 2q / (1 - q), i.e. T = a / ln(..)
    # and the scaled model predicts p0 = q on the other half.
    # q_A = 2/3: T_A = 5 / ln 4 = 3.606738; q_B = 5/6: T_B = 5 / ln 10
    # = 2.171472; temperature = mean = 2.889105.
    # NLL(B | p0 = 2/3) = -(5/6 ln 2/3 + 1/6 ln 1/6) = 0.636514
    # NLL(A | p0 = 5/6) = -(2/3 ln 5/6 + 1/3 ln 1/12) = 0.949850
    # nll_c = 0.793182; ece_c = mean(|5/6 - 2/3|, |2/3 - 5/6|) = 1/6.
    logits, labels = _two_fold_case()
    out = two_fold_temperature_scaling(logits, labels)
    assert out['temperature_fold0'] == pytest.approx(3.606738, rel=1e-5)
    assert out['temperature_fold1'] == pytest.approx(2.171472, rel=1e-5)
    assert out['temperature'] == pytest.approx(2.889105, rel=1e-5)
    assert out['nll_c'] == pytest.approx(0.793182, abs=1e-5)
    assert out['ece_c'] == pytest.approx(1 / 6, abs=1e-5)
    # Uncalibrated: p0 = e^5 / (e^5 + 2) = 0.986703 on 9 right, 3 wrong:
    # 0.75 * 0.013386 + 0.25 * 5.013386 = 1.263386 > nll_c.
    nll = temperature_scaled_nll(logits, labels, 1.0)
    assert nll == pytest.approx(1.263386, abs=1e-5)
    assert out['nll_c'] < nll
    # Deterministic; another seed is another split.
    assert two_fold_temperature_scaling(logits, labels) == out
    assert two_fold_temperature_scaling(logits, labels, seed=1) != out


def test_two_fold_needs_two_samples_per_half():
    with pytest.raises(ValueError, match='N >= 4'):
        two_fold_temperature_scaling(_logits_a00(1.0, 3), torch.zeros(3))


def test_logits_from_probs_is_exact_for_temperature():
    # log p = z - logsumexp(z): softmax(log p / T) == softmax(z / T).
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]],
                          dtype=torch.float64)
    rec = ensemble_logits_from_probs(logits.softmax(1))
    for t in (0.5, 2.0):
        torch.testing.assert_close((rec / t).softmax(1),
                                   (logits / t).softmax(1))


def _samples(head_logits=None, probs=None, labels=()):
    """DataSamples with pred_score, gt_label and optionally head_logits."""
    samples = []
    for i, label in enumerate(labels):
        sample = DataSample().set_gt_label(int(label))
        if head_logits is not None:
            sample.set_field(head_logits[i].float(), 'head_logits')
            sample.set_pred_score(head_logits[i].float().mean(0).softmax(0))
        else:
            sample.set_pred_score(probs[i].float())
        samples.append(sample)
    return samples


# Two heads, six samples; mean head logits are [2,0,0], [0,1.5,.5], [0,0,2],
# [1.5,.5,0], [.5,0,1], [2,0,0] for labels 0, 1, 2, 0, 1, 2.
HEAD_LOGITS = torch.tensor([
    [[2., 0., 0.], [2., 0., 0.]],
    [[0., 3., 0.], [0., 0., 1.]],
    [[0., 0., 2.], [0., 0., 2.]],
    [[0., 1., 0.], [3., 0., 0.]],
    [[0., 0., 2.], [1., 0., 0.]],
    [[2., 0., 0.], [2., 0., 0.]],
])
HEAD_LABELS = [0, 1, 2, 0, 1, 2]


def test_metric_in_evaluator_with_head_logits():
    evaluator = Evaluator(
        [METRICS.build(dict(type='CalibrationMetric'))])
    samples = _samples(head_logits=HEAD_LOGITS, labels=HEAD_LABELS)
    evaluator.process(samples[:4])
    evaluator.process(samples[4:])
    out = evaluator.evaluate(6)
    assert set(out) == {
        'calibration/nll', 'calibration/ece', 'calibration/brier',
        'calibration/nll_c', 'calibration/ece_c', 'calibration/temperature'
    }
    # -log p_y: s0, s2: -ln(e^2 / (e^2 + 2)) = 0.239578;
    # s1, s3: -ln(e^1.5 / (1 + e^1.5 + e^.5)) = 0.464377;
    # s4: -ln(1 / (e^.5 + 1 + e)) = 1.680327; s5: -ln(1 / (e^2 + 2))
    # = 2.239578; mean = 0.887940
    assert out['calibration/nll'] == pytest.approx(0.887940, abs=1e-5)
    # conf 0.786986 (bin 11): 3 samples, 2 right -> 3/6 * 0.120319;
    # conf 0.628532 (bin 9): 2 right -> 2/6 * 0.371468;
    # conf 0.506480 (bin 7): 1 wrong -> 1/6 * 0.506480; ECE = 0.268396
    assert out['calibration/ece'] == pytest.approx(0.268396, abs=1e-5)
    assert out['calibration/temperature'] > 0


def test_metric_without_head_logits_matches():
    # An M = 1 classifier exposing only pred_score gives the same values:
    # log(pred_score) differs from the mean logits by a per-sample constant.
    with_heads = Evaluator([CalibrationMetric()])
    with_heads.process(_samples(head_logits=HEAD_LOGITS, labels=HEAD_LABELS))
    ref = with_heads.evaluate(6)
    probs = HEAD_LOGITS.mean(1).softmax(1)
    plain = Evaluator([CalibrationMetric()])
    plain.process(_samples(probs=probs, labels=HEAD_LABELS))
    out = plain.evaluate(6)
    assert set(out) == set(ref)
    for key in ref:
        assert out[key] == pytest.approx(ref[key], rel=1e-5, abs=1e-6), key


def test_metric_perfect_and_over_confident():
    metric = CalibrationMetric()
    # Perfectly calibrated: conf 0.8, 8 of 10 right.
    probs = torch.tensor([[0.8, 0.1, 0.1]]).repeat(10, 1)
    labels = [0] * 8 + [1, 2]
    metric.process(None, [s.to_dict() for s in _samples(probs=probs,
                                                        labels=labels)])
    out = metric.evaluate(10)
    assert out['calibration/ece'] == pytest.approx(0.0, abs=1e-6)
    # -(0.8 ln .8 + 0.2 ln .1) = 0.178515 + 0.460517 = 0.639032
    assert out['calibration/nll'] == pytest.approx(0.639032, abs=1e-5)
    # 0.8 * (.04 + .01 + .01) + 0.2 * (.64 + .81 + .01) = 0.048 + 0.292
    assert out['calibration/brier'] == pytest.approx(0.34, abs=1e-6)
    # Over-confident logits: T > 1 and scaling helps.
    logits, labels = _two_fold_case()
    metric.process(None, [
        s.to_dict()
        for s in _samples(probs=logits.softmax(1), labels=labels.tolist())
    ])
    out = metric.evaluate(12)
    assert out['calibration/temperature'] == pytest.approx(2.889105, rel=1e-4)
    assert out['calibration/nll_c'] == pytest.approx(0.793182, abs=1e-4)
    assert out['calibration/nll'] == pytest.approx(1.263386, abs=1e-5)
    assert out['calibration/nll_c'] < out['calibration/nll']


def test_metric_small_set_skips_calibrated_keys():
    metric = CalibrationMetric(prefix='cal')
    metric.process(None, [
        s.to_dict() for s in _samples(probs=PROBS[:3], labels=LABELS[:3])
    ])
    with mock.patch('mmmixmo.evaluation.metrics.calibration_metric.print_log'
                    ) as log:
        out = metric.evaluate(3)
    assert set(out) == {'cal/nll', 'cal/ece', 'cal/brier'}
    assert log.call_args.kwargs['level'] == logging.WARNING
    assert 'nll_c' in log.call_args.args[0]


def test_metric_results_are_per_sample_cpu():
    metric = CalibrationMetric()
    metric.process(None, [
        s.to_dict()
        for s in _samples(head_logits=HEAD_LOGITS[:2], labels=[0, 1])
    ])
    assert len(metric.results) == 2
    for res in metric.results:
        assert res['logits'].shape == (3, )
        assert res['logits'].device.type == 'cpu'
        assert res['gt_label'].shape == (1, )


@pytest.mark.parametrize('num_bins', [0, -3, 2.5, True, '15'])
def test_num_bins_validation(num_bins):
    with pytest.raises(ValueError, match='num_bins'):
        CalibrationMetric(num_bins=num_bins)


def test_num_bins_is_used():
    # Same data as test_ece_averages_within_bins_and_num_bins: 1 bin -> 0.3
    probs = torch.tensor([[0.9, 0.05, 0.05]] * 2 + [[0.7, 0.2, 0.1]] * 2)
    metric = CalibrationMetric(num_bins=1)
    metric.process(None, [
        s.to_dict() for s in _samples(probs=probs, labels=[0, 0, 1, 1])
    ])
    assert metric.evaluate(4)['calibration/ece'] == pytest.approx(
        0.3, abs=1e-6)
