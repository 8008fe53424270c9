"""CalibrationMetric in an mmengine Evaluator, against hand values."""
import logging
import math
import pickle
from unittest import mock

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS

import mmmixmo  # noqa: F401  (registers the metrics)
from mmmixmo.evaluation.metrics import CalibrationMetric


def _row(result, key):
    """A sample's row of its batch's array ``key``."""
    return result.record.arrays[key][result.index]


def _evaluate(metric, samples):
    metric.process(None, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def test_in_evaluator_with_member_logits(member_logits, head_labels,
                                         make_samples):
    evaluator = Evaluator([METRICS.build(dict(type='CalibrationMetric'))])
    samples = make_samples(head_labels, member_logits)
    evaluator.process(samples[:4])
    evaluator.process(samples[4:])
    out = evaluator.evaluate(6)
    assert list(out) == [
        'calibration/nll', 'calibration/ece', 'calibration/aece',
        'calibration/tace', 'calibration/tace_mixmo', 'calibration/brier',
        'calibration/nll_c', 'calibration/ece_c', 'calibration/temperature'
    ]
    # -log p_y: s0, s2: -ln(e^2 / (e^2 + 2)) = 0.239578;
    # s1, s3: -ln(e^1.5 / (1 + e^1.5 + e^.5)) = 0.464377;
    # s4: -ln(1 / (e^.5 + 1 + e)) = 1.680327; s5: -ln(1 / (e^2 + 2))
    # = 2.239578; mean = 0.887940
    assert out['calibration/nll'] == pytest.approx(0.887940, abs=1e-5)
    # conf 0.786986 (bin 11): 3 samples, 2 right -> 3/6 * 0.120319;
    # conf 0.628532 (bin 9): 2 right -> 2/6 * 0.371468;
    # conf 0.506480 (bin 7): 1 wrong -> 1/6 * 0.506480; ECE = 0.268396
    assert out['calibration/ece'] == pytest.approx(0.268396, abs=1e-5)
    # 6 samples in 15 equal-mass bins: one per bin, AECE = mean |1[right] -
    # conf| = (0.506480 + 2 (1 - 0.628532) + 2 (1 - 0.786986) + 0.786986)
    # / 6
    assert out['calibration/aece'] == pytest.approx(0.410405, abs=1e-5)
    # per class, 6 probabilities > 1e-3 in 15 bins: TACE = mean over (n, k)
    # of |1[y_n = k] - p_nk| = 2 mean_n (1 - p_ny) / 3, p_ny = 0.786986 (s0,
    # s2), 0.628532 (s1, s3), 0.186324 (s4), 0.106507 (s5)
    assert out['calibration/tace'] == pytest.approx(0.319570, abs=1e-5)
    # MixMo's TACE: n_k = 6 < 15, one bin per class: sum_k |sum_n p_nk - 2|
    # / (6 * 3); sum_n p_n0 = .786986 + .140244 + .106507 + .628532 +
    # .307196 + .786986 = 2.756451, likewise 1.365601 and 1.877948:
    # (.756451 + .634399 + .122052) / 18
    assert out['calibration/tace_mixmo'] == pytest.approx(0.084050, abs=1e-5)
    assert out['calibration/temperature'] > 0


def test_logits_source(member_logits, head_labels, make_samples):
    # A model exposing only pred_score gives the same values: log(pred_score)
    # differs from the mean head logits by a per-sample constant.
    ref = _evaluate(CalibrationMetric(),
                    make_samples(head_labels, member_logits))
    probs = member_logits.mean(1).softmax(1)
    out = _evaluate(CalibrationMetric(), make_samples(head_labels,
                                                      probs=probs))
    assert out == pytest.approx(ref, rel=1e-5, abs=1e-6)
    # ensemble_logits if present, else log(pred_score); stored per batch
    # (small to gather): float32 numpy logits minus their maximum, the
    # float64 softmax terms, the kept probabilities
    sample = make_samples([0], member_logits[1:2])[0].to_dict()
    metric = CalibrationMetric()
    metric.process(None, [sample])
    metric.process(None, [dict(sample, ensemble_logits=torch.ones(3))])
    del sample['ensemble_logits']
    metric.process(None, [sample])
    assert [_row(r, 'logits').tolist() for r in metric.results[:2]
            ] == [[-1.5, 0.0, -1.0], [0.0, 0.0, 0.0]]
    log_probs = sample['pred_score'].double().log().float()
    torch.testing.assert_close(
        torch.from_numpy(_row(metric.results[2], 'logits')),
        log_probs - log_probs.max())
    assert all(
        _row(r, 'logits').dtype == np.float32 and _row(r, 'logits').shape
        == (3, ) and _row(r, 'log_norm').dtype == np.float64
        for r in metric.results)
    # label, z_y - max z, log sum exp(z - max z), right, sum p^2
    assert [
        _row(metric.results[1], key)
        for key in ('labels', 'label_gap', 'log_norm', 'correct',
                    'square_sum')
    ] == pytest.approx([0, 0, math.log(3), 1, 1 / 3], abs=1e-12)
    # all 3 probabilities 1/3 kept, the first one the label's
    arrays = metric.results[1].record.arrays
    assert arrays['kept_classes'].tolist() == [0, 1, 2]
    assert arrays['kept_probs'].tolist() == pytest.approx([1 / 3] * 3)
    assert arrays['kept_hits'].tolist() == [True, False, False]


def test_perfect_and_over_confident(make_samples):
    # Perfectly calibrated: conf 0.8, 8 of 10 right.
    probs = torch.tensor([[0.8, 0.1, 0.1]]).repeat(10, 1)
    out = _evaluate(CalibrationMetric(),
                    make_samples([0] * 8 + [1, 2], probs=probs))
    assert out['calibration/ece'] == pytest.approx(0.0, abs=1e-6)
    # -(0.8 ln .8 + 0.2 ln .1) = 0.178515 + 0.460517 = 0.639032
    assert out['calibration/nll'] == pytest.approx(0.639032, abs=1e-5)
    # 0.8 * (.04 + .01 + .01) + 0.2 * (.64 + .81 + .01) = 0.048 + 0.292
    assert out['calibration/brier'] == pytest.approx(0.34, abs=1e-6)
    # Over-confident logits (5, 0, 0), the two-fold case of
    # test_functional/test_calibration.py: T > 1 and scaling helps.
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    labels = torch.empty(12, dtype=torch.long)
    labels[perm] = torch.tensor([0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0, 1])
    probs = torch.tensor([[5.0, 0.0, 0.0]]).softmax(1).repeat(12, 1)
    out = _evaluate(CalibrationMetric(), make_samples(labels, probs=probs))
    assert out['calibration/temperature'] == pytest.approx(2.889105, rel=1e-4)
    assert out['calibration/nll_c'] == pytest.approx(0.793182, abs=1e-4)
    assert out['calibration/nll'] == pytest.approx(1.263386, abs=1e-5)


def test_samples_of_different_numbers_of_classes(make_samples):
    metric = CalibrationMetric()
    for num_classes in (3, 3, 2, 4):  # batches of 3 + 3 = 2 + 4 values
        metric.process(None, [
            s.to_dict() for s in make_samples(
                [0], probs=torch.full((1, num_classes), 1 / num_classes))
        ])
    with pytest.raises(ValueError, match=r'different numbers of classes'):
        metric.evaluate(4)


def test_small_set_skips_calibrated_keys(member_logits, make_samples):
    probs = member_logits.mean(1).softmax(1)
    with mock.patch('mmmixmo.evaluation.metrics.calibration_metric.print_log'
                    ) as log:
        out = _evaluate(
            CalibrationMetric(prefix='cal'),
            make_samples([0, 1, 2], probs=probs))
    assert list(out) == [
        'cal/nll', 'cal/ece', 'cal/aece', 'cal/tace', 'cal/tace_mixmo',
        'cal/brier'
    ]
    assert log.call_args.kwargs['level'] == logging.WARNING
    assert 'nll_c' in log.call_args.args[0]


def test_num_bins_is_used(make_samples):
    # 0.9 x2 right, 0.7 x2 wrong; a single bin: |0.5 - 0.8| = 0.3
    probs = torch.tensor([[0.9, 0.05, 0.05]] * 2 + [[0.7, 0.2, 0.1]] * 2)
    out = _evaluate(
        CalibrationMetric(num_bins=1), make_samples([0, 0, 1, 1],
                                                    probs=probs))
    assert out['calibration/ece'] == pytest.approx(0.3, abs=1e-6)


def test_adaptive_and_thresholded_by_hand(make_samples):
    probs = torch.tensor([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8],
                          [0.9995, 0.0005]])
    samples = make_samples([0, 1, 1, 0], probs=probs)
    out = _evaluate(CalibrationMetric(num_bins=2), samples)
    # conf .6 W, .8 R | .9 R, .9995 R: 2/4 |.5 - .7| + 2/4 |1 - .94975|
    assert out['calibration/aece'] == pytest.approx(0.125125, abs=1e-6)
    # equal-width bins: all in (.5, 1]: |.75 - .82488|
    assert out['calibration/ece'] == pytest.approx(0.074875, abs=1e-6)
    # class 0: (.2 W, .6 W) |0 - .4|, (.9 R, .9995 R) |1 - .94975|;
    # class 1 (.0005 <= 1e-3 left out): (.1 W, .4 R) |.5 - .25|, (.8 R) .2
    assert out['calibration/tace'] == pytest.approx(
        (0.4 + 0.05025 + 0.25 + 0.2) / 4, abs=1e-6)
    # MixMo's: bins of n_k // 2, |sum p - hits| / (N K = 8): class 0
    # |.8 - 0| + |1.8995 - 2|; class 1 (.1 W) .1, (.4 R, .8 R) |1.2 - 2|
    assert out['calibration/tace_mixmo'] == pytest.approx(
        (0.8 + 0.1005 + 0.1 + 0.8) / 8, abs=1e-6)
    # threshold 0: class 1 bins (.0005 W, .1 W) .05025, (.4 R, .8 R) .4;
    # MixMo's |.1005 - 0| and |1.2 - 2|
    out = _evaluate(CalibrationMetric(num_bins=2, tace_threshold=0), samples)
    assert out['calibration/tace'] == pytest.approx(
        (0.4 + 0.05025 + 0.05025 + 0.4) / 4, abs=1e-6)
    assert out['calibration/tace_mixmo'] == pytest.approx(
        (0.8 + 0.1005 + 0.1005 + 0.8) / 8, abs=1e-6)


def _calibrated(samples, temperature):
    """The samples of a model calibrated at ``temperature``: its
    ``ensemble_logits`` divided by it, and the field."""
    for sample in samples:
        logits = sample.ensemble_logits / temperature
        sample.set_field(logits, 'ensemble_logits')
        sample.set_pred_score(logits.softmax(0))
        sample.set_field(temperature, 'temperature', field_type='metainfo')
    return samples


def test_calibrated_model(member_logits, head_labels, make_samples):
    samples = _calibrated(make_samples(head_labels, member_logits), 2.0)
    with mock.patch('mmmixmo.evaluation.metrics.calibration_metric.print_log'
                    ) as log:
        out = _evaluate(CalibrationMetric(), samples)
    assert list(out) == [
        'calibration/nll', 'calibration/ece', 'calibration/aece',
        'calibration/tace', 'calibration/tace_mixmo', 'calibration/brier',
        'calibration/temperature'
    ]
    assert out['calibration/temperature'] == 2.0
    assert log.call_count == 1
    assert log.call_args.kwargs['level'] == logging.INFO
    assert 'calibrated' in log.call_args.args[0]
    assert 'nll_c and ece_c' in log.call_args.args[0]
    # the scores of the given (divided) logits: -log p_y with logits / 2:
    # s0, s2: -ln(e / (e + 2)) = 0.551445; s1, s3: -ln(e^.75 / (1 + e^.75
    # + e^.25)) = 0.731838; s4: -ln(1 / (e^.25 + 1 + e^.5)) = 1.369338;
    # s5: -ln(1 / (e + 2)) = 1.551445; mean 0.914558
    assert out['calibration/nll'] == pytest.approx(0.914558, abs=1e-5)
    # fewer than 4 samples: the temperature is still reported
    out = _evaluate(CalibrationMetric(), samples[:2])
    assert out['calibration/temperature'] == 2.0


def test_temperatures_must_agree(member_logits, head_labels, make_samples):
    samples = _calibrated(make_samples(head_labels, member_logits), 2.0)
    samples[3].set_field(1.5, 'temperature', field_type='metainfo')
    with pytest.raises(ValueError, match=r'different `temperature`s '
                       r'\[1.5, 2.0\]'):
        _evaluate(CalibrationMetric(), samples)
    samples = make_samples(head_labels, member_logits)
    samples[0].set_field(2.0, 'temperature', field_type='metainfo')
    with pytest.raises(ValueError, match=r'\[2.0, None\]'):
        _evaluate(CalibrationMetric(), samples)
    samples[0].set_field(math.nan, 'temperature', field_type='metainfo')
    with pytest.raises(ValueError, match='NaN or inf in `temperature` of 1 '
                       'of 6 samples'):
        _evaluate(CalibrationMetric(), samples)


@pytest.mark.parametrize('key, value', [('num_bins', 0), ('num_bins', -3),
                                        ('num_bins', 2.5), ('num_bins', True),
                                        ('num_bins', '15'),
                                        ('split_seed', 1.5),
                                        ('split_seed', '0'),
                                        ('tace_threshold', -0.1),
                                        ('tace_threshold', 1.0),
                                        ('tace_threshold', '1e-3'),
                                        ('tace_threshold', True)])
def test_bad_arguments_name_the_key(key, value):
    with pytest.raises(ValueError, match=key):
        CalibrationMetric(**{key: value})


def test_user_mistakes(member_logits, make_samples):
    sample = make_samples([0], member_logits[:1])[0].to_dict()
    with pytest.raises(ValueError, match='single-label'):
        CalibrationMetric().process(
            None, [dict(sample, gt_label=torch.tensor([0, 1]))])
    del sample['ensemble_logits'], sample['pred_score']
    with pytest.raises(KeyError, match='pred_score'):
        CalibrationMetric().process(None, [sample])


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize('field', ['ensemble_logits', 'pred_score'])
def test_non_finite_input_raises(member_logits, head_labels, make_samples,
                                 spoil, non_finite_error, field, value):
    # the field read: ensemble_logits if present, else pred_score (whose
    # -inf, after the clamp of ensemble_logits_from_probs, would be finite)
    if field == 'ensemble_logits':
        samples = make_samples(head_labels, member_logits)
    else:
        samples = make_samples(
            head_labels, probs=member_logits.mean(1).softmax(1))
    spoil(samples, [1, 4], field, value)
    metric = CalibrationMetric()
    evaluator = Evaluator([metric])
    evaluator.process(samples[:3])
    evaluator.process(samples[3:])
    # process only marks them; the count is over all the batches
    assert [
        res.record.marks[res.index] or None if res.record.marks else None
        for res in metric.results
    ] == [None, (field, ), None, None, (field, ), None]
    with pytest.raises(ValueError) as error:
        evaluator.evaluate(6)
    assert str(error.value) == non_finite_error('CalibrationMetric', 2, 6,
                                                field)


def test_fields_not_read_and_zeros_pass(member_logits, head_labels,
                                        make_samples, spoil):
    # a NaN pred_score is not read when ensemble_logits is there
    samples = make_samples(head_labels, member_logits)
    ref = _evaluate(CalibrationMetric(), samples)
    spoil(samples, [0, 1], 'pred_score', math.nan)
    assert _evaluate(CalibrationMetric(), samples) == ref
    # exact zeros of pred_score are finite: -(ln 1 + ln .5) / 2
    out = _evaluate(
        CalibrationMetric(),
        make_samples([0, 1], probs=torch.tensor([[1., 0.], [.5, .5]])))
    assert out['calibration/nll'] == pytest.approx(math.log(2) / 2)


def test_large_random_set_equals_the_float64_functions():
    # 1,000 samples of 50 classes as the MixMo head writes them (float64
    # ensemble_logits, views of a batch), ties included; the metric keeps
    # float32 rows: the scores are those of float64 logits to 1e-6
    from mmmixmo.evaluation.functional import (calibration_scores,
                                               two_fold_temperature_scaling)
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(0)
    logits = 4 * torch.randn(1000, 50, generator=gen, dtype=torch.float64)
    logits[500:510] = logits[3]
    logits[::7, 1] = logits[::7, 0]
    labels = torch.randint(50, (1000, ), generator=gen)
    samples = []
    for row, label in zip(logits, labels):
        sample = DataSample().set_gt_label(int(label))
        sample.set_pred_score(row.softmax(0).float())
        sample.set_field(row, 'ensemble_logits')
        samples.append(sample)
    metric = CalibrationMetric()
    evaluator = Evaluator([metric])
    for start in range(0, 1000, 64):
        evaluator.process(samples[start:start + 64])
    # per sample (what the ranks gather): a float32 row, 4 float64 terms,
    # the label, and the kept probabilities (float64), classes (int16) and
    # hit flags
    records = {id(r.record): r.record for r in metric.results}.values()
    assert all(r.arrays['logits'].dtype == np.float32
               and r.arrays['kept_classes'].dtype == np.int16
               for r in records)
    kept = sum(len(r.arrays['kept_probs']) for r in records)
    assert len(pickle.dumps(metric.results)) < \
        1000 * (50 * 4 + 6 * 8 + 100) + kept * (8 + 2 + 1)
    out = evaluator.evaluate(1000)
    ref = calibration_scores(logits, labels)
    ref.update(two_fold_temperature_scaling(logits, labels))
    assert out == pytest.approx(
        {f'calibration/{k}': v for k, v in ref.items()}, abs=1e-6, rel=0)
