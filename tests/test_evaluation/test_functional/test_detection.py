"""Detection scores against scikit-learn and hand computations."""
import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from mmmixmo.evaluation.functional import (auroc, average_precision,
                                           fpr_at_tpr, roc_curve)


def _bool(values):
    return torch.tensor(values, dtype=torch.bool)


def _f64(values):
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('num', [7, 1000])
@pytest.mark.parametrize('decimals', [None, 2, 1])
def test_against_sklearn_random(seed, num, decimals):
    gen = torch.Generator().manual_seed(seed)
    scores = torch.rand(num, generator=gen, dtype=torch.float64)
    if decimals is not None:  # many ties
        scores = scores.round(decimals=decimals)
    # informative but noisy; both classes present
    positives = torch.rand(num, generator=gen, dtype=torch.float64) < scores
    positives[:2] = _bool([True, False])
    y, s = positives.numpy(), scores.numpy()
    assert auroc(scores, positives) == pytest.approx(
        skm.roc_auc_score(y, s), abs=1e-12)
    assert average_precision(scores, positives) == pytest.approx(
        skm.average_precision_score(y, s), abs=1e-12)
    fpr, tpr, thresholds = roc_curve(scores, positives)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    for ours, theirs in ((fpr, sk_fpr), (tpr, sk_tpr),
                         (thresholds, sk_thr)):
        assert ours.dtype == torch.float64 and ours.device.type == 'cpu'
        np.testing.assert_allclose(ours.numpy(), theirs, atol=1e-12)
    # one point per distinct score plus (0, 0) at +inf
    assert thresholds.numel() == scores.unique().numel() + 1
    assert thresholds[0] == math.inf and fpr[0] == 0 and tpr[0] == 0


def test_roc_curve_by_hand():
    # sorted: 0.9 (+), 0.8 (-), 0.8 (+), 0.4 (-), 0.1 (+); 3 pos, 2 neg
    scores = _f64([0.8, 0.1, 0.9, 0.4, 0.8])
    positives = _bool([False, True, True, False, True])
    fpr, tpr, thresholds = roc_curve(scores, positives)
    assert thresholds.tolist() == [math.inf, 0.9, 0.8, 0.4, 0.1]
    # >= 0.9: 1 pos; >= 0.8: 2 pos 1 neg; >= 0.4: 2 pos 2 neg; all
    torch.testing.assert_close(fpr, _f64([0, 0, 1 / 2, 1, 1]))
    torch.testing.assert_close(tpr, _f64([0, 1 / 3, 2 / 3, 2 / 3, 1]))
    # trapezoids: 0.5 * (1/3 + 2/3) / 2 + 0.5 * 2/3 = 0.25 + 1/3
    assert auroc(scores, positives) == pytest.approx(7 / 12, abs=1e-12)
    # pairs (pos, neg) won: 0.9 > both (2), 0.8 ties 0.8 (1/2) and beats
    # 0.4 (1), 0.1 loses both (0): 3.5 / 6 = 7/12
    assert skm.roc_auc_score(positives.numpy(),
                             scores.numpy()) == pytest.approx(7 / 12)


@pytest.mark.parametrize(
    'scores, positives, auc, ap',
    [
        # pos 0.9, 0.7; neg 0.8, 0.6: pairs won 3 of 4.
        # AP: t 0.9 R 1/2 P 1; t 0.8 R 1/2; t 0.7 R 1 P 2/3; t 0.6 R 1
        #   -> 1/2 * 1 + 1/2 * 2/3 = 5/6
        ([0.9, 0.8, 0.7, 0.6], [True, False, True, False], 0.75, 5 / 6),
        # perfect and reversed rankings; AP reversed: 1/2 * 1/3 + 1/2 * 1/2
        ([0.9, 0.8, 0.2, 0.1], [True, True, False, False], 1.0, 1.0),
        ([0.1, 0.2, 0.8, 0.9], [True, True, False, False], 0.0, 5 / 12),
        # all tied: a single point (1, 1), precision = prevalence
        ([0.5, 0.5, 0.5, 0.5], [True, False, False, False], 0.5, 0.25),
        # 0.9 (+) beats both negatives, 0.5 (+) ties both: (2 + 1) / 4.
        # AP: t 0.9 R 1/2 P 1; t 0.5 R 1 P 2/4 -> 1/2 + 1/4
        ([0.9, 0.5, 0.5, 0.5], [True, True, False, False], 0.75, 0.75),
    ])
def test_auroc_average_precision_by_hand(scores, positives, auc, ap):
    scores, positives = _f64(scores), _bool(positives)
    assert auroc(scores, positives) == pytest.approx(auc, abs=1e-12)
    assert average_precision(scores, positives) == pytest.approx(
        ap, abs=1e-12)
    # the same reference values as scikit-learn
    assert skm.roc_auc_score(positives.numpy(),
                             scores.numpy()) == pytest.approx(auc)
    assert skm.average_precision_score(positives.numpy(),
                                       scores.numpy()) == pytest.approx(ap)


def test_auroc_symmetries():
    gen = torch.Generator().manual_seed(3)
    scores = torch.rand(50, generator=gen).round(decimals=1)
    positives = torch.rand(50, generator=gen) < 0.3
    value = auroc(scores, positives)
    assert 0 < value < 1
    assert auroc(-scores, positives) == pytest.approx(1 - value)
    assert auroc(scores, ~positives) == pytest.approx(1 - value)
    # the order of the samples does not matter (up to float rounding)
    perm = torch.randperm(50, generator=gen)
    assert isinstance(value, float)
    assert auroc(scores[perm], positives[perm]) == pytest.approx(value)


# positives 0.9, 0.8, 0.6, 0.3; negatives 0.85, 0.7, 0.5, 0.2
FPR_SCORES = _f64([0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.3, 0.2])
FPR_POSITIVES = _bool([True, False, True, False, True, False, True, False])


@pytest.mark.parametrize(
    'tpr, fpr',
    [
        (0.0, 0.0),  # the first point (0, 0) at +inf
        (0.25, 0.0),  # t 0.9: 1 pos, no neg
        (0.5, 0.25),  # t 0.8: 2 pos, neg 0.85
        (0.75, 0.5),  # t 0.6: 3 pos, neg 0.85 0.7
        (0.95, 0.75),  # t 0.3: 4 pos, neg 0.85 0.7 0.5
        (1.0, 0.75),
    ])
def test_fpr_at_tpr_by_hand(tpr, fpr):
    assert fpr_at_tpr(FPR_SCORES, FPR_POSITIVES, tpr) == fpr


def test_fpr_at_tpr_ties_and_exact_rate():
    # tpr 0.95 needs both positives: t 0.5 also takes the tied negative
    scores = _f64([0.9, 0.5, 0.5, 0.1])
    assert fpr_at_tpr(scores, _bool([True, True, False, False])) == 0.5
    # 20 positives at 1..20, negatives at 0.5, 1.5, 20.5: TPR 19/20 is
    # exactly 0.95 at t = 2, where only the negative 20.5 is kept (1/3);
    # the next point (t = 1) would give 2/3
    scores = torch.cat([torch.arange(1, 21).double(), _f64([0.5, 1.5, 20.5])])
    positives = torch.arange(23) < 20
    assert fpr_at_tpr(scores, positives) == pytest.approx(1 / 3)
    assert fpr_at_tpr(scores, positives, 0.96) == pytest.approx(2 / 3)


@pytest.mark.parametrize('positive', [True, False])
def test_single_class_is_nan(positive):
    scores = _f64([0.3, 0.2, 0.9])
    positives = _bool([positive] * 3)
    assert math.isnan(auroc(scores, positives))
    assert math.isnan(average_precision(scores, positives))
    assert math.isnan(fpr_at_tpr(scores, positives))
    fpr, tpr, _ = roc_curve(scores, positives)
    # the axis of the absent class is undefined, the other one is not
    missing, present = (fpr, tpr) if positive else (tpr, fpr)
    assert missing.isnan().all()
    torch.testing.assert_close(present, _f64([0, 1 / 3, 2 / 3, 1]))
    empty = torch.zeros(0)
    assert math.isnan(auroc(empty, empty.bool()))
    assert math.isnan(average_precision(empty, empty.bool()))


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match='differ in length'):
        auroc(torch.rand(3), _bool([True, False]))
