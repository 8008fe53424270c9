"""The chunked calibration scores against a float64 reference on stacked
probabilities: the formulas of the previous implementation, with ties."""
import math
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmixmo.evaluation.functional import (calibration_scores,
                                           fit_temperature, scaled_log_norm,
                                           softmax_summary,
                                           temperature_scaled_nll,
                                           two_fold_temperature_scaling)
from mmmixmo.evaluation.functional.calibration import (LOG_TEMPERATURE_RANGE,
                                                       LOG_TEMPERATURE_TOL)


def _ece(probs, labels, num_bins):
    confidence, prediction = probs.max(dim=1)
    edges = torch.arange(1, num_bins, dtype=torch.float64) / num_bins
    index = torch.bucketize(confidence, edges)
    gap = (torch.bincount(index, (prediction == labels).double(), num_bins) -
           torch.bincount(index, confidence, num_bins))
    return float(gap.abs().sum() / len(labels))


def _aece(probs, labels, num_bins):
    confidence, prediction = probs.max(dim=1)
    confidence, order = torch.sort(confidence, stable=True)
    correct = (prediction == labels)[order].double()
    return float(
        sum((c.sum() - k.sum()).abs() for c, k in zip(
            correct.tensor_split(num_bins), confidence.tensor_split(
                num_bins))) / len(labels))


def _taces(probs, labels, num_bins, threshold):
    """Per class, a loop over tensor_split's bins and the MixMo authors'."""
    nixon, mixmo = [], 0.0
    for k in range(probs.size(1)):
        kept = probs[:, k] > threshold
        values, order = torch.sort(probs[kept, k], stable=True)
        hits = (labels[kept] == k)[order].double()
        nixon += [(h.mean() - v.mean()).abs() for h, v in zip(
            hits.tensor_split(num_bins), values.tensor_split(num_bins))
                  if len(v)]
        small = len(values) // num_bins
        edges = [b * small for b in range(num_bins)] + [len(values)]
        mixmo += sum(
            float((values[a:b] - hits[a:b]).sum().abs())
            for a, b in zip(edges[:-1], edges[1:]))
    return float(torch.stack(nixon).mean()), mixmo / probs.numel()


def _golden_temperature(logits, labels):
    """The previous fit: golden-section search on log T, bracket 1e-6."""
    low, high = LOG_TEMPERATURE_RANGE
    ratio = (math.sqrt(5.0) - 1.0) / 2.0

    def nll(log_t):
        return float(F.cross_entropy(logits / math.exp(log_t), labels))

    x1, x2 = high - ratio * (high - low), low + ratio * (high - low)
    f1, f2 = nll(x1), nll(x2)
    while high - low > LOG_TEMPERATURE_TOL:
        if f1 <= f2:
            high, x2, f2 = x2, x1, f1
            x1 = high - ratio * (high - low)
            f1 = nll(x1)
        else:
            low, x1, f1 = x1, x2, f2
            x2 = low + ratio * (high - low)
            f2 = nll(x2)
    return math.exp((low + high) / 2)


def _reference(logits, labels, num_bins=15, threshold=1e-3, seed=0):
    """All the scores of CalibrationMetric, from float64 probabilities."""
    probs = logits.softmax(1)
    one_hot = F.one_hot(labels, logits.size(1)).double()
    tace, tace_mixmo = _taces(probs, labels, num_bins, threshold)
    out = dict(
        nll=float(F.cross_entropy(logits, labels)),
        ece=_ece(probs, labels, num_bins),
        aece=_aece(probs, labels, num_bins),
        tace=tace,
        tace_mixmo=tace_mixmo,
        brier=float((probs - one_hot).pow(2).sum(1).mean()))
    perm = torch.randperm(len(labels),
                          generator=torch.Generator().manual_seed(seed))
    halves = (perm[:len(labels) // 2], perm[len(labels) // 2:])
    scores = []
    for fit, score in (halves, halves[::-1]):
        temp = _golden_temperature(logits[fit], labels[fit])
        scaled = logits[score] / temp
        scores.append((float(F.cross_entropy(scaled, labels[score])),
                       _ece(scaled.softmax(1), labels[score], num_bins),
                       temp))
    out.update({
        key: sum(s[i] for s in scores) / 2
        for i, key in enumerate(('nll_c', 'ece_c', 'temperature'))
    })
    return out


def _blocks(logits, num_blocks=7):
    """Logits as CalibrationMetric stores them: float32 blocks of rows minus
    each row's maximum."""
    centred = (logits - logits.amax(1, keepdim=True)).numpy()
    return np.array_split(centred, num_blocks)


def _random_logits(seed, num, num_classes, scale):
    """float32 logits with ties: repeated rows, and equal logits in rows."""
    gen = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(num, num_classes, generator=gen)
    logits[num // 2:num // 2 + 7] = logits[3]  # equal probabilities
    logits[::5, 1] = logits[::5, 0]  # tied top-2
    labels = torch.randint(num_classes, (num, ), generator=gen)
    return logits, labels


@pytest.mark.parametrize('seed, num, num_classes, scale, num_bins', [
    (0, 300, 10, 3.0, 15),
    (1, 257, 40, 1.0, 7),
    (2, 64, 5, 8.0, 15),
    (3, 1200, 100, 4.0, 15),
])
def test_equals_the_float64_reference(seed, num, num_classes, scale,
                                      num_bins):
    logits, labels = _random_logits(seed, num, num_classes, scale)
    ref = _reference(logits.double(), labels, num_bins)
    # as a tensor and as the blocks CalibrationMetric stores
    for source in (logits, _blocks(logits)):
        out = calibration_scores(source, labels, num_bins)
        out.update(two_fold_temperature_scaling(source, labels, num_bins))
        temperature = out.pop('temperature')
        assert out == pytest.approx(
            {k: v for k, v in ref.items() if k != 'temperature'},
            abs=1e-6, rel=0)
        # the fit is that of the golden-section search within its bracket
        assert abs(math.log(temperature / ref['temperature'])) <= \
            LOG_TEMPERATURE_TOL
    assert temperature_scaled_nll(logits, labels, 2.0) == pytest.approx(
        float(F.cross_entropy(logits.double() / 2, labels)), abs=1e-9)


def test_fit_against_the_golden_section_search():
    # 20 sets of 2,000 x 50 logits, under- and over-confident
    worst = 0.0
    for seed in range(20):
        gen = torch.Generator().manual_seed(seed)
        logits = (0.3 + seed / 4) * torch.randn(2000, 50, generator=gen)
        labels = torch.where(
            torch.rand(2000, generator=gen) < 0.6, logits.argmax(1),
            torch.randint(50, (2000, ), generator=gen))
        new = fit_temperature(logits, labels)
        old = _golden_temperature(logits.double(), labels)
        worst = max(worst, abs(math.log(new / old)))
    assert worst <= LOG_TEMPERATURE_TOL


def test_summary_in_chunks_and_kept_probabilities():
    # more rows than a chunk: the rows of the chunks are put together again
    logits, labels = _random_logits(4, 700, 300, 2.0)
    logits -= logits.amax(1, keepdim=True)  # as in the blocks, exactly
    probs = logits.double().softmax(1)
    summary = softmax_summary(_blocks(logits), labels, 0.5, 2e-3)
    kept = (probs > 2e-3).view(-1).nonzero()[:, 0]
    assert torch.equal(summary['kept_rows'], kept // 300)
    assert torch.equal(summary['kept_classes'].long(), kept % 300)
    assert summary['kept_classes'].dtype == torch.int16
    torch.testing.assert_close(summary['kept_probs'], probs.view(-1)[kept],
                               rtol=1e-13, atol=0)
    torch.testing.assert_close((-summary['log_norm']).exp(),
                               probs.max(1).values, rtol=1e-13, atol=0)
    torch.testing.assert_close(summary['square_sum'],
                               probs.square().sum(1), rtol=1e-13, atol=0)
    scaled = (2 * logits.double()).log_softmax(1)
    torch.testing.assert_close(
        summary['label_gap'] * 2 - summary['scaled_log_norm'],
        scaled.gather(1, labels[:, None])[:, 0], rtol=0, atol=1e-12)
    assert summary['correct'].tolist() == (
        logits.argmax(1) == labels).tolist()
    assert summary['kept_hits'].tolist() == (
        summary['kept_classes'].long() == labels[kept // 300]).tolist()
    empty = softmax_summary(np.zeros((0, 3), np.float32), labels[:0], 1.0,
                            0.5)
    assert all(v.numel() == 0 for v in empty.values())


def test_scaled_log_norm_in_float32():
    # the float32 pass is within float32 rounding of the float64 value,
    # for any shift of a row and one 1 / T per row
    logits, _ = _random_logits(5, 300, 200, 3.0)
    betas = torch.linspace(0.2, 5.0, 300, dtype=torch.float64)
    shifted = (logits + 7.0).double()
    exact = torch.logsumexp(
        betas[:, None] * (shifted - shifted.amax(1, keepdim=True)), 1)
    for source in (logits + 7.0, _blocks(logits + 7.0)):
        out = scaled_log_norm(source, betas)
        assert out.dtype == torch.float64 and out.shape == (300, )
        torch.testing.assert_close(out, exact, rtol=0, atol=2e-6)


def test_taylor_step_and_one_full_pass():
    from mmmixmo.evaluation.functional import calibration
    # the root of 1 + x + x^2 / 2 + x^3 / 6 + x^4 / 24 = 2 (e^x = 2 cut at
    # degree 4) from the start 0.7 (a Halley step's, close to it)
    root = calibration._taylor_root([-1.0, 1.0, 1.0, 1.0, 1.0], 0.7)
    assert sum(root**j / math.factorial(j) for j in range(5)) == \
        pytest.approx(2, abs=1e-12)
    assert root == pytest.approx(math.log(2), abs=2e-3)
    # 10,000 rows: the fit on every 16th row, then a single pass over all
    # of them, within the tolerance of the golden-section search
    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(10000, 20, generator=gen)
    labels = torch.where(
        torch.rand(10000, generator=gen) < 0.7, logits.argmax(1),
        torch.randint(20, (10000, ), generator=gen))
    passes = []
    derivatives = calibration._nll_derivatives

    def count(logits, *args):
        passes.append(calibration._num_rows(logits))
        return derivatives(logits, *args)

    with mock.patch.object(calibration, '_nll_derivatives', count):
        fitted = fit_temperature(logits, labels)
    assert passes.count(10000) == 1 and set(passes) == {625, 10000}
    assert abs(math.log(fitted / _golden_temperature(
        logits.double(), labels))) <= LOG_TEMPERATURE_TOL
