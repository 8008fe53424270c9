"""Selective prediction functions against hand computations."""
import math

import pytest
import torch

from mmmixmo.evaluation.functional import (accuracy_at_coverage, aurc,
                                           risk_coverage_curve)


def _bool(values):
    return torch.tensor(values, dtype=torch.bool)


def _f64(values):
    return torch.tensor(values, dtype=torch.float64)


def test_risk_coverage_curve_by_hand():
    # sorted: 0.9 R, 0.8 W, 0.8 R, 0.6 W, 0.5 R (given shuffled)
    confidence = _f64([0.8, 0.5, 0.9, 0.6, 0.8])
    correct = _bool([False, True, True, False, True])
    coverage, risk = risk_coverage_curve(confidence, correct)
    assert coverage.dtype == risk.dtype == torch.float64
    # >= 0.9: 1 sample, 0 wrong; >= 0.8: 3, 1; >= 0.6: 4, 2; all: 5, 2
    torch.testing.assert_close(coverage, _f64([0.2, 0.6, 0.8, 1.0]))
    torch.testing.assert_close(risk, _f64([0.0, 1 / 3, 0.5, 0.4]))
    # 0.2 * 0 + 0.4 * 1/3 + 0.2 * 0.5 + 0.2 * 0.4 = 0.313333
    assert aurc(confidence, correct) == pytest.approx(0.313333, abs=1e-6)


@pytest.mark.parametrize(
    'correct, value',
    [
        # top-k risks 0, 1/2, 1/3, 1/2 -> mean 1.333333 / 4
        ([True, False, True, False], 0.333333),
        # errors last (best ranking): 0, 0, 1/3, 1/2 -> 0.208333
        ([True, True, False, False], 0.208333),
        # errors first (worst): 1, 1, 2/3, 1/2 -> 0.791667
        ([False, False, True, True], 0.791667),
        ([True] * 4, 0.0),
        ([False] * 4, 1.0),
    ])
def test_aurc_no_ties_by_hand(correct, value):
    confidence = _f64([0.9, 0.8, 0.7, 0.6])
    assert aurc(confidence, _bool(correct)) == pytest.approx(value, abs=1e-6)


def test_aurc_is_mean_top_k_risk_without_ties():
    gen = torch.Generator().manual_seed(0)
    confidence = torch.rand(300, generator=gen)
    assert confidence.unique().numel() == 300
    correct = torch.rand(300, generator=gen) < confidence
    order = confidence.argsort(descending=True)
    wrong = (~correct[order]).tolist()
    risks = [sum(wrong[:k]) / k for k in range(1, 301)]
    assert aurc(confidence, correct) == pytest.approx(
        sum(risks) / 300, abs=1e-12)
    coverage, _ = risk_coverage_curve(confidence, correct)
    assert coverage.numel() == 300


def test_aurc_ties_are_one_step():
    # All tied: a single point (1, error rate), whatever the order.
    correct = _bool([False, True, True, True])
    assert aurc(torch.full((4, ), 0.7), correct) == pytest.approx(0.25)
    # Without the tie the same labels would give (1 + 1/2 + 1/3 + 1/4) / 4
    assert aurc(_f64([0.9, 0.8, 0.7, 0.6]), correct) == pytest.approx(
        (1 + 1 / 2 + 1 / 3 + 1 / 4) / 4)


@pytest.mark.parametrize(
    'coverage, accuracy',
    [
        (0.1, 100.0),  # ceil(0.5) = 1 sample
        (0.4, 100.0),  # 2 samples: R R
        (0.5, 200 / 3),  # ceil(2.5) = 3: R R W
        (0.8, 75.0),  # 4: R R W R
        (1.0, 60.0),  # all: 3 of 5
    ])
def test_accuracy_at_coverage_by_hand(coverage, accuracy):
    # sorted: 0.9 R, 0.8 R, 0.7 W, 0.6 R, 0.5 W (given shuffled)
    confidence = _f64([0.7, 0.9, 0.5, 0.8, 0.6])
    correct = _bool([False, True, False, True, True])
    assert accuracy_at_coverage(confidence, correct,
                                coverage) == pytest.approx(accuracy)


def test_accuracy_at_coverage_ties_and_rounding():
    # ties by index order: the first of the three is kept
    assert accuracy_at_coverage(torch.full((3, ), 0.5),
                                _bool([False, True, True]), 1 / 3) == 0.0
    assert accuracy_at_coverage(torch.full((3, ), 0.5),
                                _bool([True, False, False]), 1 / 3) == 100.0
    # 0.95 * 20 keeps 19 samples (the wrong least confident one is out)
    confidence = torch.linspace(1.0, 0.05, 20)
    correct = torch.arange(20) < 19
    assert accuracy_at_coverage(confidence, correct, 0.95) == 100.0
    assert accuracy_at_coverage(confidence, correct, 0.951) == 95.0
    # 0.07 * 100 = 7.000000000000001 in float64: still 7 samples, not 8
    confidence = torch.linspace(1.0, 0.01, 100)
    correct = torch.arange(100) < 7
    assert accuracy_at_coverage(confidence, correct, 0.07) == 100.0


def test_invalid_and_empty_inputs():
    for coverage in (0.0, 1.5):
        with pytest.raises(ValueError, match='coverage'):
            accuracy_at_coverage(torch.rand(4), torch.ones(4).bool(),
                                 coverage)
    empty = torch.zeros(0)
    assert math.isnan(aurc(empty, empty.bool()))
    assert math.isnan(accuracy_at_coverage(empty, empty.bool(), 0.5))
    with pytest.raises(ValueError, match='differ in length'):
        aurc(torch.rand(3), _bool([True]))
