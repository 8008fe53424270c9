"""Uncertainty scores against hand computations."""
import math

import pytest
import torch

from mmmixmo.evaluation.functional import (UNCERTAINTY_SCORES, ood_logits,
                                           uncertainty_scores)


def _f64(values):
    return torch.tensor(values, dtype=torch.float64)


def test_max_prob_and_entropy_by_hand():
    probs = _f64([[0.25] * 4, [1.0, 0.0, 0.0, 0.0], [0.5, 0.25, 0.25, 0.0]])
    scores = uncertainty_scores(probs.float())
    assert tuple(scores) == UNCERTAINTY_SCORES[:2]
    for value in scores.values():
        assert value.dtype == torch.float64 and value.shape == (3, )
    torch.testing.assert_close(scores['max_prob'], _f64([0.75, 0.0, 0.5]))
    # uniform: log K; one-hot: 0 (0 log 0 = 0, not nan);
    # 0.5 ln 2 + 2 * 0.25 ln 4 = 1.5 ln 2
    torch.testing.assert_close(scores['entropy'],
                               _f64([math.log(4), 0.0, 1.5 * math.log(2)]))


def test_mutual_information_by_hand():
    member_probs = _f64([
        [[0.7, 0.2, 0.1], [0.7, 0.2, 0.1]],  # identical members: 0
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  # H(.5, .5, 0) - 0 = ln 2
        # H(.75, .25) - (ln 2 + 0) / 2 = 0.562335 - 0.346574
        [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]],
    ])
    scores = uncertainty_scores(member_probs.mean(1), member_probs)
    assert tuple(scores) == UNCERTAINTY_SCORES[:4]
    torch.testing.assert_close(scores['mutual_information'],
                               _f64([0.0, math.log(2), 0.215762]),
                               atol=1e-6,
                               rtol=0)
    assert (scores['mutual_information'] >= 0).all()
    # identical members on random inputs: exactly 0, never below
    probs = torch.rand(50, 10, generator=torch.Generator().manual_seed(0))
    probs = (probs * 5).softmax(1)
    same = uncertainty_scores(probs, probs[:, None].expand(50, 3, 10))
    assert same['mutual_information'].abs().max() < 1e-12
    assert (same['mutual_information'] >= 0).all()
    assert (same['disagreement'] == 0).all()


def test_entropy_is_of_probs_not_member_mean():
    # pred_score may differ from the members' mean (e.g. a softmax of
    # averaged logits): max_prob and entropy follow `probs`
    probs = _f64([[1.0, 0.0]])
    member_probs = _f64([[[0.5, 0.5], [0.5, 0.5]]])
    scores = uncertainty_scores(probs, member_probs)
    assert scores['max_prob'].tolist() == [0.0]
    assert scores['entropy'].tolist() == [0.0]
    assert scores['mutual_information'].tolist() == [0.0]


def _one_hot_members(preds):
    """Member probabilities ``(N, M, 3)`` with argmax ``preds`` (N, M)."""
    return 0.2 + 0.6 * torch.nn.functional.one_hot(torch.tensor(preds),
                                                   3).double()


@pytest.mark.parametrize(
    'preds, disagreement',
    [
        # M = 2: one pair
        ([[0, 0], [0, 2]], [0.0, 1.0]),
        # M = 3: pairs (0,1) (0,2) (1,2); [0, 0, 1]: 2 of 3 differ
        ([[1, 1, 1], [0, 0, 1], [2, 0, 2], [0, 1, 2]],
         [0.0, 2 / 3, 2 / 3, 1.0]),
        # M = 4: [0, 0, 1, 1]: 4 of 6 pairs differ; [0, 0, 0, 2]: 3 of 6
        ([[0, 0, 1, 1], [0, 0, 0, 2]], [2 / 3, 0.5]),
    ])
def test_disagreement_by_hand(preds, disagreement):
    member_probs = _one_hot_members(preds)
    scores = uncertainty_scores(member_probs.mean(1), member_probs)
    torch.testing.assert_close(scores['disagreement'], _f64(disagreement))


def test_invalid_member_probs():
    probs = torch.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match='M >= 2'):
        uncertainty_scores(probs, probs[:, None])
    with pytest.raises(ValueError, match='M >= 2'):
        uncertainty_scores(probs, probs)


def test_energy_and_max_logit_by_hand():
    logits = _f64([[0.0, 0.0, 0.0, 0.0], [2.0, 0.0, -1.0, 0.0],
                   [1.0, 1.0, -50.0, -50.0], [1000.0, 0.0, 0.0, 0.0]])
    scores = uncertainty_scores(logits.softmax(1), logits=logits.float())
    assert tuple(scores) == ('max_prob', 'entropy', 'energy', 'max_logit')
    # -log sum_k e^z_k: -log 4; -log(e^2 + e^-1 + 2) = -log 9.756935 =
    # -2.277978; -log(2e + 2e^-50) = -(1 + ln 2); -1000 without overflow
    torch.testing.assert_close(
        scores['energy'],
        _f64([-math.log(4), -2.277978, -1.693147, -1000.0]),
        atol=1e-6,
        rtol=0)
    torch.testing.assert_close(scores['max_logit'],
                               _f64([0.0, -2.0, -1.0, -1000.0]))
    assert scores['energy'].dtype == torch.float64
    # all six with the members too, in the order of UNCERTAINTY_SCORES
    member_probs = logits.softmax(1)[:, None].expand(4, 2, 4)
    assert tuple(uncertainty_scores(logits.softmax(1), member_probs,
                                    logits)) == UNCERTAINTY_SCORES
    with pytest.raises(ValueError, match='logits must be'):
        uncertainty_scores(logits.softmax(1), logits=logits[:, :3])


def test_ood_logits():
    heads = _f64([[[2.0, 0.0, 1.0], [0.0, 4.0, 1.0]]])
    ensemble = _f64([[-1.0, -1.0, -1.0]])
    # the members' mean (1, 2, 1) divided by T, even with ensemble_logits
    # (the log-probabilities of an ensemble averaging probabilities)
    torch.testing.assert_close(ood_logits(heads, ensemble, 2.0),
                               _f64([[0.5, 1.0, 0.5]]))
    torch.testing.assert_close(ood_logits(heads.float(), None),
                               _f64([[1.0, 2.0, 1.0]]))
    # one sample (M, K) -> (K, )
    torch.testing.assert_close(ood_logits(heads[0], None, 0.5),
                               _f64([2.0, 4.0, 2.0]))
    # a single network: its ensemble_logits, already divided by T
    torch.testing.assert_close(ood_logits(None, ensemble.float(), 2.0),
                               ensemble)
    assert ood_logits(None, None) is None
    # MixMo at T = 2: energy -log(e^.5 + e + e^.5) = -1.794377
    scores = uncertainty_scores(
        _f64([[0.25, 0.5, 0.25]]), logits=ood_logits(heads, None, 2.0))
    assert scores['energy'].item() == pytest.approx(-1.794377, abs=1e-6)
    assert scores['max_logit'].item() == -1.0
