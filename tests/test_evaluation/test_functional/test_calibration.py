"""Calibration functions against hand computations."""
import math

import pytest
import torch

from mmmixmo.evaluation.functional import (
    adaptive_calibration_error, brier_score, ensemble_logits_from_probs,
    expected_calibration_error, fit_temperature,
    mixmo_thresholded_adaptive_calibration_error, reliability_bins,
    temperature_scaled_nll, thresholded_adaptive_calibration_error,
    two_fold_temperature_scaling)


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


# Four samples, three classes; true-class probabilities 0.7, 0.3, 0.8, 0.3.
PROBS = _t([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.1, 0.8],
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
    assert temperature_scaled_nll(PROBS.log(), LABELS,
                                  1.0) == pytest.approx(0.746941, abs=1e-6)
    # T = 2 on logits (2, 0): -log(e / (e + 1)) = log(1 + 1/e) = 0.313262
    assert temperature_scaled_nll(_t([[2.0, 0.0]]), torch.tensor([0]),
                                  2.0) == pytest.approx(0.313262, abs=1e-6)
    # A zero true-class probability is clamped to 1.18e-38: -log = 87.3365
    logits = ensemble_logits_from_probs(torch.tensor([[1.0, 0.0]]))
    assert logits.dtype == torch.float64
    assert temperature_scaled_nll(logits, torch.tensor([1]),
                                  1.0) == pytest.approx(87.3365, abs=1e-3)


def test_brier_by_hand():
    # rows: .09+.04+.01, .04+.25+.49, .01+.01+.04, .36+.49+.01
    #     = 0.14, 0.78, 0.06, 0.86 -> mean 0.46
    assert brier_score(PROBS, LABELS) == pytest.approx(0.46, abs=1e-9)
    # Not divided by K: range [0, 2].
    one_hot = _t([[1.0, 0.0, 0.0]])
    assert brier_score(one_hot, torch.tensor([0])) == 0.0
    assert brier_score(one_hot, torch.tensor([1])) == pytest.approx(2.0)


@pytest.mark.parametrize(
    'rows, labels, num_bins, ece',
    [
        # 10 samples at confidence 0.8, exactly 8 right: calibrated.
        ([[0.8, 0.1, 0.1]] * 10, [0] * 8 + [1, 2], 15, 0.0),
        # 4 at 0.9 (bin 13), 2 right: |0.5 - 0.9| * 4/6 = 0.26667;
        # 2 at 0.7 (bin 10), 1 right: |0.5 - 0.7| * 2/6 = 0.06667
        ([[0.9, 0.05, 0.05]] * 4 + [[0.15, 0.7, 0.15]] * 2,
         [0, 0, 1, 2, 1, 0], 15, 1 / 3),
        # 0.9 x2 right, 0.7 x2 wrong: 2/4 * 0.1 + 2/4 * 0.7 = 0.4 ...
        ([[0.9, 0.05, 0.05]] * 2 + [[0.7, 0.2, 0.1]] * 2, [0, 0, 1, 1], 15,
         0.4),
        # ... and in a single bin |acc 0.5 - conf 0.8| = 0.3
        ([[0.9, 0.05, 0.05]] * 2 + [[0.7, 0.2, 0.1]] * 2, [0, 0, 1, 1], 1,
         0.3),
        # Same bin (0.9333, 1]: 0.95 right, 0.99 wrong -> |0.5 - 0.97|
        ([[0.95, 0.05], [0.99, 0.01]], [0, 1], 15, 0.47),
        # Right-closed bins (0, .5], (.5, 1]: 0.5 right, 0.75 wrong ->
        # 1/2 * 0.5 + 1/2 * 0.75 (left-closed would give 0.125)
        ([[0.5, 0.5], [0.75, 0.25]], [0, 1], 2, 0.625),
    ])
def test_ece_by_hand(rows, labels, num_bins, ece):
    assert expected_calibration_error(
        _t(rows), torch.tensor(labels), num_bins) == pytest.approx(
            ece, abs=1e-9)


def test_reliability_bins_by_hand():
    # 0.6 and 0.5 sit exactly on bin edges in float64.
    probs = _t([[0.95, 0.05], [0.05, 0.95], [0.6, 0.4], [0.5, 0.5]])
    labels = torch.tensor([0, 0, 0, 1])
    bins = reliability_bins(probs, labels, num_bins=10)
    counts = torch.zeros(10, dtype=torch.float64)
    counts[[4, 5, 9]] = _t([1., 1., 2.])
    torch.testing.assert_close(bins['counts'], counts)
    # Right-closed: 0.6 is in (0.5, 0.6], 0.5 (argmax 0, wrong) in (0.4, 0.5]
    assert bins['accuracy'][[4, 5, 9]].tolist() == [0.0, 1.0, 0.5]
    assert bins['confidence'][[4, 5, 9]].tolist() == [0.5, 0.6, 0.95]
    assert bins['accuracy'][counts == 0].isnan().all()
    assert bins['confidence'][counts == 0].isnan().all()
    # (2/4)|0.5 - 0.95| + (1/4)|1 - 0.6| + (1/4)|0 - 0.5|
    assert float(bins['ece']) == pytest.approx(0.45, abs=1e-12)
    assert expected_calibration_error(probs, labels, 10) == float(bins['ece'])


def test_fit_temperature_closed_form():
    # Logits (a, 0, 0); 6 of 8 samples are class 0. The NLL is minimal when
    # e^(a/T) / (e^(a/T) + 2) = 0.75, i.e. T = a / ln 6.
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 2])
    # over-confident (a = 4): T = 4 / 1.791759 = 2.232443
    assert fit_temperature(_logits_a00(4.0, 8),
                           labels) == pytest.approx(2.232443, rel=1e-5)
    # calibrated (a = ln 6): T = 1; under-confident (a = ln 6 / 2): T = 0.5
    assert fit_temperature(_logits_a00(math.log(6), 8),
                           labels) == pytest.approx(1.0, rel=1e-5)
    assert fit_temperature(_logits_a00(math.log(6) / 2, 8),
                           labels) == pytest.approx(0.5, rel=1e-5)
    # all right: the NLL decreases as T -> 0: the lower end e^-3
    assert fit_temperature(_logits_a00(1.0, 4), torch.zeros(
        4, dtype=torch.long)) == pytest.approx(math.exp(-3), rel=1e-5)


def test_fit_temperature_refuses_what_has_no_optimum():
    labels = torch.tensor([0, 0, 0, 0, 0, 0, 1, 2])
    for value in (float('nan'), float('inf'), -float('inf')):
        logits = _logits_a00(4.0, 8)
        logits[3, 1] = value
        with pytest.raises(ValueError, match='finite logits'):
            fit_temperature(logits, labels)
        with pytest.raises(ValueError, match='finite logits'):  # rows
            fit_temperature(list(logits.numpy()), labels)
    with pytest.raises(ValueError, match='at least one sample'):
        fit_temperature(torch.zeros(0, 3), labels[:0])


def test_two_fold_temperature_scaling_by_hand():
    # 12 samples with logits (5, 0, 0): 4/6 right in half A, 5/6 in half B.
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(0))
    labels = torch.empty(12, dtype=torch.long)
    labels[perm[:6]] = torch.tensor([0, 0, 0, 0, 1, 2])
    labels[perm[6:]] = torch.tensor([0, 0, 0, 0, 0, 1])
    logits = _logits_a00(5.0, 12)
    # A half of accuracy q fits e^(a/T) = 2q / (1 - q): T_A = 5 / ln 4 =
    # 3.606738, T_B = 5 / ln 10 = 2.171472; the other half then gets p0 = q.
    assert fit_temperature(logits[perm[:6]],
                           labels[perm[:6]]) == pytest.approx(3.606738,
                                                              rel=1e-5)
    assert fit_temperature(logits[perm[6:]],
                           labels[perm[6:]]) == pytest.approx(2.171472,
                                                              rel=1e-5)
    out = two_fold_temperature_scaling(logits, labels)
    assert out['temperature'] == pytest.approx(2.889105, rel=1e-5)
    # NLL(B | p0 = 2/3) = -(5/6 ln 2/3 + 1/6 ln 1/6) = 0.636514
    # NLL(A | p0 = 5/6) = -(2/3 ln 5/6 + 1/3 ln 1/12) = 0.949850
    assert out['nll_c'] == pytest.approx(0.793182, abs=1e-5)
    # mean(|5/6 - 2/3|, |2/3 - 5/6|)
    assert out['ece_c'] == pytest.approx(1 / 6, abs=1e-5)
    # Raw: p0 = e^5 / (e^5 + 2) = 0.986703 on 9 right, 3 wrong:
    # 0.75 * 0.013386 + 0.25 * 5.013386 = 1.263386 > nll_c.
    assert temperature_scaled_nll(logits, labels, 1.0) == pytest.approx(
        1.263386, abs=1e-5)
    # Deterministic; another seed is another split (seed 1 splits 4/6 and
    # 5/6 right too, the same scores to the float32 rounding of the fit:
    # equal values at other places of a chunk round apart by an ulp; seed 2
    # splits 6/6 and 3/6).
    assert two_fold_temperature_scaling(logits, labels) == out
    assert two_fold_temperature_scaling(logits, labels, seed=1) == \
        pytest.approx(out, rel=1e-7)
    assert two_fold_temperature_scaling(logits, labels, seed=2) != \
        pytest.approx(out, rel=1e-3)


def test_logits_from_probs_is_exact_for_temperature():
    # log p = z - logsumexp(z): softmax(log p / T) == softmax(z / T).
    logits = _t([[2.0, -1.0, 0.5], [0.0, 3.0, 1.0]])
    recovered = ensemble_logits_from_probs(logits.softmax(1))
    for t in (0.5, 2.0):
        torch.testing.assert_close((recovered / t).softmax(1),
                                   (logits / t).softmax(1))


def _binary(confidences):
    """Rows ``(p, 1 - p)``: argmax 0 for ``p > 0.5``."""
    conf = _t(confidences)
    return torch.stack([conf, 1 - conf], dim=1)


@pytest.mark.parametrize(
    'confidences, labels, num_bins, aece',
    [
        # sorted .55 W, .6 R, .7 W | .8 R, .9 R, .95 W (given shuffled):
        # 3/6 |1/3 - .616667| + 3/6 |2/3 - .883333| = .141667 + .108333
        ([0.9, 0.55, 0.8, 0.95, 0.7, 0.6], [0, 1, 0, 1, 1, 0], 2, 0.25),
        # 5 into 2 bins of 3 and 2: .6 R, .7 W, .8 R | .9 W, .95 R:
        # 3/5 |2/3 - .7| + 2/5 |1/2 - .925| = .02 + .17
        ([0.6, 0.7, 0.8, 0.9, 0.95], [0, 1, 0, 1, 0], 2, 0.19),
        # more bins than samples: one per bin, the others empty and
        # skipped: (|1 - .9| + |0 - .7|) / 2
        ([0.9, 0.7], [0, 1], 15, 0.4),
        # one bin = ECE with one bin: |3/5 - .79|
        ([0.6, 0.7, 0.8, 0.9, 0.95], [0, 1, 0, 1, 0], 1, 0.19),
    ])
def test_adaptive_ece_by_hand(confidences, labels, num_bins, aece):
    probs, labels = _binary(confidences), torch.tensor(labels)
    assert adaptive_calibration_error(probs, labels,
                                      num_bins) == pytest.approx(aece,
                                                                 abs=1e-9)
    if num_bins == 1:
        assert expected_calibration_error(probs, labels,
                                          1) == pytest.approx(aece)


def _random_probs(seed, num, num_classes):
    gen = torch.Generator().manual_seed(seed)
    logits = 3 * torch.randn(num, num_classes, generator=gen,
                             dtype=torch.float64)
    labels = torch.randint(num_classes, (num, ), generator=gen)
    return logits.softmax(1), labels


@pytest.mark.parametrize('seed, num, num_bins', [(0, 200, 15), (1, 37, 4),
                                                 (2, 10, 15)])
def test_adaptive_ece_against_tensor_split(seed, num, num_bins):
    probs, labels = _random_probs(seed, num, 5)
    conf, pred = probs.max(1)
    order = conf.argsort()
    expected = 0.0
    for idx in torch.tensor_split(order, num_bins):
        if idx.numel():
            expected += abs(float((pred[idx] == labels[idx]).double().sum() -
                                  conf[idx].sum())) / num
    assert adaptive_calibration_error(probs, labels,
                                      num_bins) == pytest.approx(expected,
                                                                 abs=1e-12)


# true classes 0, 1, 2, 0; the 1e-4 is under the TACE threshold
TACE_PROBS = _t([[0.7, 0.2, 0.1], [0.6, 0.3999, 0.0001], [0.1, 0.1, 0.8],
                 [0.3, 0.5, 0.2]])
TACE_LABELS = torch.tensor([0, 1, 2, 0])


def test_tace_by_hand():
    # 2 equal-mass bins per class (sorted ascending, R = true class):
    # class 0: .1, .3 R | .6, .7 R: |1/2 - .2| = .3, |1/2 - .65| = .15
    # class 1: .1, .2 | .3999 R, .5: |0 - .15| = .15,
    #          |1/2 - .44995| = .05005
    # class 2 (1e-4 dropped): .1, .2 | .8 R: .15, |1 - .8| = .2
    # mean of the 6 bins: 1.00005 / 6
    assert thresholded_adaptive_calibration_error(
        TACE_PROBS, TACE_LABELS, num_bins=2) == pytest.approx(1.00005 / 6,
                                                              abs=1e-9)
    # threshold 0 keeps it: class 2 becomes 1e-4, .1 | .2, .8 R:
    # |0 - .05005| = .05005, |1/2 - .5| = 0 -> 0.7001 / 6
    assert thresholded_adaptive_calibration_error(
        TACE_PROBS, TACE_LABELS, num_bins=2,
        threshold=0.0) == pytest.approx(0.7001 / 6, abs=1e-9)
    # one bin per class: class 0 |1/2 - .425|, class 1 |1/4 - .299975|,
    # class 2 (.1, .8 R, .2 kept) |1/3 - 1.1/3| -> mean 0.158308 / 3
    expected = (0.075 + 0.049975 + 0.1 / 3) / 3
    assert thresholded_adaptive_calibration_error(
        TACE_PROBS, TACE_LABELS, num_bins=1) == pytest.approx(expected,
                                                              abs=1e-7)


def test_tace_empty_bins_skipped():
    # 15 bins, at most 4 values per class: one value per non-empty bin,
    # TACE = mean over the 11 kept probabilities of |1[y = k] - p|
    kept = TACE_PROBS > 1e-3
    hits = TACE_LABELS[:, None] == torch.arange(3)
    expected = float((hits.double() - TACE_PROBS).abs()[kept].mean())
    assert thresholded_adaptive_calibration_error(
        TACE_PROBS, TACE_LABELS) == pytest.approx(expected, abs=1e-12)


def _tace_data(seed, num, num_classes, quantum):
    """Random probabilities, rounded to multiples of ``quantum`` (ties)."""
    probs, labels = _random_probs(seed, num, num_classes)
    if quantum:
        probs = (probs / quantum).round() * quantum
    return probs, labels


def _class_bins(probs, labels, k, threshold):
    """``p_nk > threshold`` sorted (stable) and their ``1[y_n = k]``."""
    order = torch.sort(probs[:, k], stable=True).indices
    values, hits = probs[order, k], (labels[order] == k).double()
    return values[values > threshold], hits[values > threshold]


# (seed, N, K, B, threshold, quantum): ties from rounding; K = 70 and
# N = 300 span two tiles of the transposition; the last two have classes
# with fewer than B kept probabilities
TACE_CASES = [(0, 200, 6, 15, 1e-3, 0), (1, 53, 6, 4, 0.05, 0),
              (2, 8, 6, 3, 1e-3, 0), (3, 300, 5, 15, 1e-3, 1 / 16),
              (4, 300, 70, 15, 1e-3, 0), (5, 400, 4, 7, 0.0, 1 / 8),
              (6, 12, 4, 15, 1e-3, 0), (7, 40, 6, 15, 0.2, 1 / 32)]


@pytest.mark.parametrize('seed, num, num_classes, num_bins, threshold, '
                         'quantum', TACE_CASES)
def test_tace_against_tensor_split(seed, num, num_classes, num_bins,
                                   threshold, quantum):
    probs, labels = _tace_data(seed, num, num_classes, quantum)
    gaps = []
    for k in range(num_classes):
        values, hits = _class_bins(probs, labels, k, threshold)
        for idx in torch.tensor_split(torch.arange(len(values)), num_bins):
            if idx.numel():
                gaps.append(abs(float(hits[idx].mean() - values[idx].mean())))
    assert thresholded_adaptive_calibration_error(
        probs, labels, num_bins, threshold) == pytest.approx(
            sum(gaps) / len(gaps), abs=1e-12)


def test_mixmo_tace_by_hand():
    # B = 2 bins of n_k // 2 values, the last taking the rest; every bin
    # adds |sum p - sum 1[y = k]| / (N K), N K = 12:
    # class 0: (.1, .3 R) |.4 - 1| = .6, (.6, .7 R) |1.3 - 1| = .3
    # class 1: (.1, .2) .3, (.3999 R, .5) |.8999 - 1| = .1001
    # class 2 (1e-4 dropped, n = 3): (.1) .1, (.2, .8 R) |1 - 1| = 0
    assert mixmo_thresholded_adaptive_calibration_error(
        TACE_PROBS, TACE_LABELS, num_bins=2) == pytest.approx(1.4001 / 12,
                                                              abs=1e-9)
    # threshold 0 keeps it: class 2 (.0001, .1) .1001, (.2, .8 R) 0
    assert mixmo_thresholded_adaptive_calibration_error(
        TACE_PROBS, TACE_LABELS, num_bins=2,
        threshold=0.0) == pytest.approx(1.4002 / 12, abs=1e-9)
    # one bin per class: |1.7 - 2| + |1.1999 - 1| + |1.1 - 1| = .5999
    one_bin = mixmo_thresholded_adaptive_calibration_error(
        TACE_PROBS, TACE_LABELS, num_bins=1)
    assert one_bin == pytest.approx(0.5999 / 12, abs=1e-9)
    # 15 bins, n_k <= 4 < 15: the authors' code gives NaN; here the empty
    # bins add 0: every class is its last bin, as with B = 1
    assert mixmo_thresholded_adaptive_calibration_error(
        TACE_PROBS, TACE_LABELS) == pytest.approx(one_bin, abs=1e-15)
    # Nixon's TACE on the same bins would average |gap| / n_b instead
    assert thresholded_adaptive_calibration_error(
        TACE_PROBS, TACE_LABELS, num_bins=1) != pytest.approx(one_bin)


def _mixmo_tace_loop(probs, labels, num_bins, threshold, empty_nan):
    """The authors' definition; ``empty_nan``: an empty bin (``n_k < B``)
    gives NaN as in their code, else 0."""
    num, num_classes = probs.shape
    total = 0.0
    for k in range(num_classes):
        values, hits = _class_bins(probs, labels, k, threshold)
        size = len(values) // num_bins
        for b in range(num_bins):
            stop = (b + 1) * size if b < num_bins - 1 else len(values)
            if stop == b * size and not empty_nan:
                continue
            part = slice(b * size, stop)
            # the mean of an empty bin is NaN, and NaN * 0 is NaN
            total += abs(float(values[part].mean() - hits[part].mean())) * (
                stop - b * size) / (num * num_classes)
    return total


@pytest.mark.parametrize('seed, num, num_classes, num_bins, threshold, '
                         'quantum', TACE_CASES)
def test_mixmo_tace_against_loop(seed, num, num_classes, num_bins,
                                 threshold, quantum):
    probs, labels = _tace_data(seed, num, num_classes, quantum)
    value = mixmo_thresholded_adaptive_calibration_error(
        probs, labels, num_bins, threshold)
    assert value == pytest.approx(
        _mixmo_tace_loop(probs, labels, num_bins, threshold, False),
        abs=1e-12)
    theirs = _mixmo_tace_loop(probs, labels, num_bins, threshold, True)
    # NaN exactly when a class has fewer than B kept probabilities
    assert math.isnan(theirs) == bool(
        ((probs > threshold).sum(0) < num_bins).any())
    if not math.isnan(theirs):
        assert value == pytest.approx(theirs, abs=1e-12)


def test_tace_ties_in_sample_order():
    # s0, s1, s2 tie in every class; labels 0, 0, 1, 1, 2
    probs = _t([[0.5, 0.3, 0.2]] * 3 + [[0.2, 0.3, 0.5], [0.7, 0.2, 0.1]])
    labels = torch.tensor([0, 0, 1, 1, 2])
    # sorted (stable), R = of the class:
    # class 0: .2 W, .5 R (s0), .5 R (s1), .5 W (s2), .7 W
    # class 1: .2 W, .3 W (s0), .3 W (s1), .3 R (s2), .3 R (s3)
    # class 2: .1 R, .2 W (s0), .2 W (s1), .2 W (s2), .5 W
    # Nixon, bins of 3 and 2: |2/3 - .4|, |0 - .6|; |0 - .8/3|, |1 - .3|;
    # |1/3 - .5/3|, |0 - .35| -> 2.35 / 6 (reversed ties: 1.383333 / 6)
    assert thresholded_adaptive_calibration_error(
        probs, labels, num_bins=2) == pytest.approx(2.35 / 6, abs=1e-12)
    # MixMo, bins of 2 and 3, |sum p - hits|: |.7 - 1|, |1.7 - 1|;
    # |.5 - 0|, |.9 - 2|; |.3 - 1|, |.9 - 0| -> 4.2 / 15 (reversed: 3.2)
    assert mixmo_thresholded_adaptive_calibration_error(
        probs, labels, num_bins=2) == pytest.approx(4.2 / 15, abs=1e-12)
    # float32 probabilities: the same up to their rounding
    assert thresholded_adaptive_calibration_error(
        probs.float(), labels, num_bins=2) == pytest.approx(2.35 / 6,
                                                            abs=1e-7)
    assert mixmo_thresholded_adaptive_calibration_error(
        probs.float(), labels, num_bins=2) == pytest.approx(4.2 / 15,
                                                            abs=1e-7)


def test_adaptive_errors_undefined():
    assert math.isnan(
        adaptive_calibration_error(torch.zeros(0, 3), torch.zeros(0).long()))
    # nothing above the threshold, or no sample
    for tace in (thresholded_adaptive_calibration_error,
                 mixmo_thresholded_adaptive_calibration_error):
        assert math.isnan(tace(TACE_PROBS, TACE_LABELS, threshold=1.0))
        assert math.isnan(
            tace(torch.zeros(0, 3, dtype=torch.float64),
                 torch.zeros(0).long()))
