"""Conformal scores, thresholds and sets against MAPIE (pinned in
requirements.txt), an independent implementation.

MAPIE's ``SplitConformalClassifier(prefit=True)`` wraps ``_Lookup``, a
classifier whose ``predict_proba`` returns given probabilities indexed by
``X``; calibration and test samples are drawn from a calibrated model
(labels sampled from its probabilities). MAPIE's conventions, read in its
1.6.0 source:

- its quantile is the ``ceil((n + 1)(1 - alpha))``-th smallest calibration
  score (``np.quantile(..., ceil((n + 1)(1 - alpha)) / n, method='lower')``),
  ours too;
- its APS / RAPS calibration scores are always randomized: the mass down to
  the true label minus ``u * p_y``, ``u`` uniform from ``random_state``
  (``include_last_label`` only acts on the sets); ours is ``u = 0``;
- RAPS tunes ``k_reg`` (``k_star``) and ``lam`` (``lambda_star``) on a part
  of the calibration samples it holds out (``X_raps``);
- its sets compare with a tolerance of 1e-8 and rank equal probabilities
  differently: the data here have no ties and no score within 1e-8 of a
  threshold (else an assertion below would say so).
"""
import numpy as np
import pytest
import torch
from mapie.classification import SplitConformalClassifier
from mapie.conformity_scores import RAPSConformityScore
from sklearn.base import BaseEstimator, ClassifierMixin

from mmmixmo.evaluation.functional.conformal import (conformal_scores,
                                                     conformal_threshold,
                                                     prediction_sets)

NUM_CLASSES, NUM_CAL, NUM_TEST = 10, 400, 300
# MAPIE's alphas are 1 - confidence level in decimal arithmetic: .1, .05
CONFIDENCE_LEVELS, ALPHAS = [0.9, 0.95], [0.1, 0.05]
SEEDS = [0, 1, 2]


class _Lookup(ClassifierMixin, BaseEstimator):
    """A fitted classifier: row ``X[i, 0]`` of ``probs``."""

    def __init__(self, probs):
        self.probs = probs
        self.classes_ = np.arange(probs.shape[1])

    def fit(self, X, y=None):
        return self

    def predict_proba(self, X):
        return self.probs[np.asarray(X)[:, 0]]

    def predict(self, X):
        return self.predict_proba(X).argmax(1)


class _ZeroUniform(np.random.RandomState):
    """A ``random_state`` whose ``uniform`` draws are 0: MAPIE's randomized
    APS / RAPS calibration scores become the non-randomized ones (ours).
    Nothing else changes (the RAPS hold-out split does not draw from
    ``uniform``)."""

    def uniform(self, low=0.0, high=1.0, size=None):
        return np.zeros(size)


class _FixedRAPS(RAPSConformityScore):
    """MAPIE's RAPS with ``k_reg`` and ``lam`` given instead of tuned.

    MAPIE sets ``k_star`` to its quantile of the 0-based ranks of the
    held-out true labels plus 1: ranks all ``k_reg - 1`` give ``k_reg``.
    ``lambda_star`` is what ``_find_lambda_star`` (the tuning) returns.
    MAPIE's regularization, quantile and sets are untouched.
    """

    def __init__(self, k_reg, lam):
        super().__init__()
        self.k_reg, self.lam = k_reg, lam

    def get_conformity_scores(self, y, y_pred, y_enc=None, **kwargs):
        scores = super().get_conformity_scores(y, y_pred, y_enc=y_enc,
                                               **kwargs)
        self.position_raps = np.full_like(self.position_raps, self.k_reg - 1)
        return scores

    def _find_lambda_star(self, *args, **kwargs):
        return self.lam


def _data(seed):
    rng = np.random.default_rng(seed)
    logits = 1.5 * rng.standard_normal((NUM_CAL + NUM_TEST, NUM_CLASSES))
    probs = np.exp(logits)
    probs /= probs.sum(1, keepdims=True)
    labels = (probs.cumsum(1) < rng.random(len(probs))[:, None]).sum(1)
    return probs, labels.clip(max=NUM_CLASSES - 1)


def _mapie(probs, labels, score, random_state):
    """Conformalized on the first NUM_CAL samples, sets of the others for
    ``include_last_label`` False and True: ``(mapie, {flag: sets})``, sets
    ``(NUM_TEST, K, len(ALPHAS))``."""
    X = np.arange(len(probs))[:, None]
    mapie = SplitConformalClassifier(_Lookup(probs),
                                     confidence_level=CONFIDENCE_LEVELS,
                                     conformity_score=score,
                                     prefit=True,
                                     random_state=random_state)
    mapie.conformalize(X[:NUM_CAL], labels[:NUM_CAL])
    assert mapie._alphas == ALPHAS
    sets = {
        flag: mapie.predict_set(
            X[NUM_CAL:], conformity_score_params=dict(
                include_last_label=flag))[1]
        for flag in (False, True)
    }
    return mapie, sets


def _ours(probs, labels, score, **params):
    """Our scores of every class and of the true labels."""
    scores = conformal_scores(torch.from_numpy(probs), score, **params)
    return scores, scores.gather(1, torch.from_numpy(labels)[:, None])[:, 0]


@pytest.mark.parametrize('seed', SEEDS)
def test_lac(seed):
    probs, labels = _data(seed)
    mapie, sets = _mapie(probs, labels, 'lac', seed)
    _, label_scores = _ours(probs, labels, 'lac')
    # both 1 - p_y
    assert np.abs(mapie.conformity_scores[:, 0] -
                  label_scores[:NUM_CAL].numpy()).max() <= 1e-12
    quantiles = mapie._mapie_classifier.quantiles_
    for i, alpha in enumerate(ALPHAS):
        threshold = conformal_threshold(label_scores[:NUM_CAL], alpha)
        assert abs(quantiles[i] - threshold) <= 1e-12
        ours = prediction_sets(torch.from_numpy(probs[NUM_CAL:]), threshold,
                               'lac').numpy()
        # LAC ignores include_last_label: 1 - p_k <= threshold either way
        for flag in (False, True):
            np.testing.assert_array_equal(sets[flag][:, :, i], ours)


def _with_top_label(sets, probs):
    """MAPIE's ``include_last_label=False``: ours, but never empty (the top
    class when ours is)."""
    out = sets.copy()
    empty = ~out.any(1)
    out[empty, probs[empty].argmax(1)] = True
    return out


def _with_next_label(sets, probs):
    """MAPIE's ``include_last_label=True``: ours plus the class whose score
    first exceeds the threshold, the best-ranked class left out (APS / RAPS
    sets are the top of the ranking: the scores grow with the rank)."""
    out = sets.copy()
    order = np.argsort(-probs, axis=1, kind='stable')
    size = out.sum(1)
    rows = np.flatnonzero(size < probs.shape[1])
    out[rows, order[rows, size[rows]]] = True
    return out


def _check_sets(mapie_sets, probs, thresholds, score, params):
    """Our sets at MAPIE's thresholds, related to MAPIE's sets."""
    for i, threshold in enumerate(thresholds):
        ours = prediction_sets(torch.from_numpy(probs), float(threshold),
                               score, **params).numpy()
        np.testing.assert_array_equal(mapie_sets[False][:, :, i],
                                      _with_top_label(ours, probs))
        np.testing.assert_array_equal(mapie_sets[True][:, :, i],
                                      _with_next_label(ours, probs))
        # not vacuous: the two MAPIE rules differ on most samples
        assert (mapie_sets[True][:, :, i].sum() -
                mapie_sets[False][:, :, i].sum()) > len(probs) // 2


def _mapie_label_scores(mapie, score):
    """MAPIE's calibration scores of the true labels ``(n, len(ALPHAS))``:
    RAPS regularized by MAPIE (per alpha: ``k_star`` may differ)."""
    raw = mapie.conformity_scores
    if score == 'aps':
        return np.repeat(raw, len(ALPHAS), axis=1)
    fn = mapie._mapie_classifier.conformity_score_function_
    return fn._regularize_conformity_score(fn.k_star, fn.lambda_star,
                                           raw.copy(), fn.cutoff)[:, 0]


@pytest.mark.parametrize('seed', SEEDS)
@pytest.mark.parametrize('score, params', [('aps', {}),
                                           ('raps', dict(k_reg=2, lam=0.05)),
                                           ('raps', dict(k_reg=0, lam=0.5))])
def test_aps_raps(seed, score, params):
    probs, labels = _data(seed)
    test = slice(NUM_CAL, None)
    _, label_scores = _ours(probs, labels, score, **params)

    def make():
        return _FixedRAPS(**params) if score == 'raps' else score

    # u = 0: MAPIE's scores are ours
    mapie, sets = _mapie(probs, labels, make(), _ZeroUniform(seed))
    # RAPS calibrates on the samples it does not hold out (in its shuffled
    # order: compared sorted); APS on all, in order
    calib = np.arange(NUM_CAL)
    if score == 'raps':
        fn = mapie._mapie_classifier.conformity_score_function_
        assert list(fn.k_star) == [params['k_reg']] * len(ALPHAS)
        assert fn.lambda_star == params['lam']
        calib = np.setdiff1d(calib, fn.X_raps[:, 0])
        assert 0 < len(fn.X_raps) < NUM_CAL // 2
    calib_scores = label_scores[calib]
    mapie_scores = _mapie_label_scores(mapie, score)
    assert mapie_scores.shape == (len(calib), len(ALPHAS))
    quantiles = mapie._mapie_classifier.quantiles_
    for i, alpha in enumerate(ALPHAS):
        mine = calib_scores.numpy()
        theirs = mapie_scores[:, i]
        if score == 'raps':
            mine, theirs = np.sort(mine), np.sort(theirs)
        assert np.abs(theirs - mine).max() <= 1e-12
        assert abs(quantiles[i] -
                   conformal_threshold(calib_scores, alpha)) <= 1e-12
    _check_sets(sets, probs[test], quantiles, score, params)

    # MAPIE's own randomized scores (an integer seed: u drawn as
    # RandomState(seed).uniform, one per calibration sample, in order)
    mapie, sets = _mapie(probs, labels, make(), seed)
    mapie_scores = _mapie_label_scores(mapie, score)
    if score == 'aps':
        u = np.random.RandomState(seed).uniform(size=NUM_CAL)
        p_y = probs[np.arange(NUM_CAL), labels[:NUM_CAL]]
        expected = label_scores[:NUM_CAL].numpy() - u * p_y
        assert np.abs(mapie_scores[:, 0] - expected).max() <= 1e-12
    quantiles = mapie._mapie_classifier.quantiles_
    for i, alpha in enumerate(ALPHAS):
        # the quantile convention on MAPIE's scores
        assert quantiles[i] == conformal_threshold(
            torch.from_numpy(mapie_scores[:, i]), alpha)
    # (here 0-2 of our 300 APS sets per alpha are empty: MAPIE's top class)
    _check_sets(sets, probs[test], quantiles, score, params)
