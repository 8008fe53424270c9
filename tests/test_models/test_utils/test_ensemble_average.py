"""ensemble_average: mean logits or mean probabilities of the members."""
import math

import pytest
import torch

from mmmixmo.models.utils import ensemble_average


def test_logits_rule_is_the_softmax_of_the_mean_logits():
    member_logits = torch.tensor([[[2., 0., 0.], [0., 0., 4.]]])
    scores, logits = ensemble_average(member_logits, 'logits')
    torch.testing.assert_close(logits, torch.tensor([[1., 0., 2.]]))
    total = math.e + 1 + math.e**2
    torch.testing.assert_close(
        scores, torch.tensor([[math.e / total, 1 / total,
                               math.e**2 / total]]))


def test_probs_rule_is_the_mean_of_the_member_probabilities():
    # member 0: p = (1/2, 1/4, 1/4); member 1: p = (1/8, 1/8, 3/4)
    member_logits = torch.tensor([[[0.5, 0.25, 0.25],
                                   [0.125, 0.125, 0.75]]]).log() + 3
    scores, logits = ensemble_average(member_logits, 'probs')
    expected = torch.tensor([[0.3125, 0.1875, 0.5]])
    torch.testing.assert_close(scores, expected)
    torch.testing.assert_close(logits, expected.log())
    torch.testing.assert_close(logits.softmax(1), scores)


@pytest.mark.parametrize('average', ['logits', 'probs'])
def test_scores_are_the_softmax_of_the_ensemble_logits(average):
    member_logits = torch.randn(5, 3, 7, dtype=torch.float64) * 4
    scores, logits = ensemble_average(member_logits, average)
    assert scores.shape == logits.shape == (5, 7)
    assert scores.dtype == logits.dtype == torch.float64
    torch.testing.assert_close(logits.softmax(1), scores)


def test_probs_rule_is_stable_for_confident_members():
    member_logits = torch.tensor([[[0., 200., -200.], [0., -200., 200.]]])
    scores, logits = ensemble_average(member_logits, 'probs')
    # log(mean p) without underflow: p = (0.5, 0.5) on classes 1 and 2
    torch.testing.assert_close(scores, torch.tensor([[0., 0.5, 0.5]]))
    assert torch.isfinite(logits).all()
    torch.testing.assert_close(logits[0, 1:], torch.full((2, ),
                                                         math.log(0.5)))
