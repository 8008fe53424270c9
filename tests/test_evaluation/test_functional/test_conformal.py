"""Conformal scores, thresholds and sets: by hand, against a per-sample
loop, and the coverage guarantee on a known distribution."""
import math
from fractions import Fraction

import pytest
import torch

from mmmixmo.evaluation.functional.conformal import (CONFORMAL_SCORES,
                                                     conformal_scores,
                                                     conformal_threshold,
                                                     prediction_sets)


def _t(rows):
    return torch.tensor(rows, dtype=torch.float64)


# K = 4; x1 ties .1 (classes 0 and 3), x2 ties .25 (classes 0 and 1): equal
# probabilities are ranked by class index
PROBS = _t([[0.5, 0.3, 0.15, 0.05], [0.1, 0.6, 0.2, 0.1],
            [0.25, 0.25, 0.4, 0.1], [0.7, 0.1, 0.1, 0.1]])
LABELS = torch.tensor([1, 0, 2, 3])
# RAPS with k_reg = 1, lam = 0.1: ranks 1, 2, 3, 4 pay 0, .1, .2, .3
RAPS = dict(k_reg=1, lam=0.1)
HAND_SCORES = dict(
    # 1 - p
    lac=[[0.5, 0.7, 0.85, 0.95], [0.9, 0.4, 0.8, 0.9],
         [0.75, 0.75, 0.6, 0.9], [0.3, 0.9, 0.9, 0.9]],
    # the mass down to the class's rank: x0 ranks 0, 1, 2, 3: .5, .8, .95,
    # 1; x1 ranks 1, 2, 0, 3: .6, .8, .9, 1; x2 ranks 2, 0, 1, 3: .4, .65,
    # .9, 1; x3 ranks 0, 1, 2, 3: .7, .8, .9, 1
    aps=[[0.5, 0.8, 0.95, 1.0], [0.9, 0.6, 0.8, 1.0],
         [0.65, 0.9, 0.4, 1.0], [0.7, 0.8, 0.9, 1.0]],
    # APS + .1 (rank - 1)
    raps=[[0.5, 0.9, 1.15, 1.3], [1.1, 0.6, 0.9, 1.3],
          [0.75, 1.1, 0.4, 1.3], [0.7, 0.9, 1.1, 1.3]])
# alpha = 0.4, n = 4: the ceil(5 * 0.6) = 3rd smallest true-label score:
# lac .7, .9, .6, .9 -> .9; aps .8, .9, .4, 1 -> .9; raps .9, 1.1, .4,
# 1.3 -> 1.1
HAND_THRESHOLDS = dict(lac=0.9, aps=0.9, raps=1.1)
# the sets of x0, x1, x2 at threshold .78 (lac: p >= .22) and .85
HAND_SETS = dict(
    lac=(0.78, [[0, 1], [1], [0, 1, 2]]),
    aps=(0.85, [[0, 1], [1, 2], [0, 2]]),
    raps=(0.85, [[0], [1], [0, 2]]))


def _params(score):
    return RAPS if score == 'raps' else {}


@pytest.mark.parametrize('score', CONFORMAL_SCORES)
def test_by_hand(score):
    params = _params(score)
    scores = conformal_scores(PROBS, score, **params)
    assert scores.dtype == torch.float64
    torch.testing.assert_close(scores, _t(HAND_SCORES[score]))
    label_scores = scores.gather(1, LABELS[:, None])[:, 0]
    assert conformal_threshold(label_scores, 0.4) == pytest.approx(
        HAND_THRESHOLDS[score])
    threshold, members = HAND_SETS[score]
    sets = prediction_sets(PROBS[:3], threshold, score, **params)
    assert sets.dtype == torch.bool
    assert [row.nonzero().flatten().tolist() for row in sets] == members


def test_empty_set_and_too_few_samples():
    # APS at .3: every top class has more mass than that
    assert not prediction_sets(PROBS, 0.3, 'aps').any()
    # n = 4 covers alpha >= 1 / 5 only
    with pytest.raises(ValueError, match='needs at least 9'):
        conformal_threshold(torch.rand(4), 0.1)
    assert conformal_threshold(_t([0.4, 0.1, 0.3, 0.2]), 0.2) == 0.4


def _loop_scores(probs, score, k_reg=0, lam=0.0):
    """The scores of every class, sample by sample in Python floats."""
    out = []
    for row in probs.tolist():
        if score == 'lac':
            out.append([1 - p for p in row])
            continue
        ranked = sorted(range(len(row)), key=lambda k: (-row[k], k))
        values, mass = [0.0] * len(row), 0.0
        for rank, k in enumerate(ranked, 1):
            mass += row[k]
            values[k] = mass + (lam * max(0, rank - k_reg)
                                if score == 'raps' else 0.0)
        out.append(values)
    return _t(out)


@pytest.mark.parametrize('score, k_reg, lam', [('lac', 0, 0.0),
                                               ('aps', 0, 0.0),
                                               ('raps', 2, 0.05),
                                               ('raps', 0, 0.5)])
def test_against_loop(score, k_reg, lam):
    gen = torch.Generator().manual_seed(0)
    probs = (2 * torch.randn(300, 7, generator=gen,
                             dtype=torch.float64)).softmax(1)
    # rounded: many ties
    probs[:100] = (probs[:100] * 8).round() / 8
    labels = torch.randint(7, (300, ), generator=gen)
    scores = conformal_scores(probs, score, k_reg, lam)
    expected = _loop_scores(probs, score, k_reg, lam)
    assert (scores - expected).abs().max() < 1e-12
    label_scores = expected.gather(1, labels[:, None])[:, 0]
    for alpha in (0.1, 0.05, 0.5):
        # the ceil((n + 1)(1 - alpha))-th smallest, in exact arithmetic
        rank = math.ceil((len(labels) + 1) *
                         (1 - Fraction(str(alpha))))
        threshold = sorted(label_scores.tolist())[rank - 1]
        assert conformal_threshold(label_scores, alpha) == threshold
        sets = prediction_sets(probs, threshold, score, k_reg, lam)
        assert torch.equal(sets, scores <= threshold)


# The guarantee: a model calibrated by construction (labels drawn from its
# probabilities, K = 10), 200 independent calibration / test splits
NUM_SPLITS, NUM_CAL, NUM_TEST, NUM_CLASSES = 200, 500, 2000, 10


@pytest.fixture(scope='module')
def splits():
    gen = torch.Generator().manual_seed(0)
    num = NUM_SPLITS * (NUM_CAL + NUM_TEST)
    probs = (1.5 * torch.randn(num, NUM_CLASSES, generator=gen,
                               dtype=torch.float64)).softmax(1)
    labels = torch.multinomial(probs, 1, generator=gen)[:, 0]
    return probs, labels


@pytest.mark.parametrize('score', CONFORMAL_SCORES)
def test_coverage_guarantee(splits, score):
    probs, labels = splits
    params = dict(k_reg=2, lam=0.05) if score == 'raps' else {}
    label_scores = conformal_scores(probs, score, **params).gather(
        1, labels[:, None])[:, 0].view(NUM_SPLITS, -1)
    for alpha in (0.1, 0.05):
        coverage = []
        for split in range(NUM_SPLITS):
            threshold = conformal_threshold(label_scores[split, :NUM_CAL],
                                            alpha)
            coverage.append(
                float((label_scores[split, NUM_CAL:] <= threshold).double()
                      .mean()))
        coverage = torch.tensor(coverage, dtype=torch.float64)
        # 3 standard errors of the mean over the splits
        margin = 3 * float(coverage.std()) / math.sqrt(NUM_SPLITS)
        mean = float(coverage.mean())
        assert mean >= 1 - alpha - margin, (score, alpha, mean, margin)
        # continuous scores (no ties): below 1 - alpha + 1 / (n + 1)
        assert mean <= 1 - alpha + 1 / (NUM_CAL + 1) + margin, (score,
                                                                alpha, mean,
                                                                margin)
        # the sets of the last split hold the covered labels
        rows = slice(-NUM_TEST, None)
        sets = prediction_sets(probs[rows], threshold, score, **params)
        assert float(sets.gather(1, labels[rows, None]).double().mean()
                     ) == coverage[-1].item()
