"""Diversity functions against hand computations."""
import pytest
import torch

from mmmixmo.evaluation.functional import (disagreement_matrix,
                                           pairwise_disagreement,
                                           ratio_errors, top1_accuracy)

# Labels 0; wrong: h0 T T F F, h1 T F T F, h2 T T T F.
PREDS3 = torch.tensor([[1, 1, 1], [1, 0, 1], [0, 1, 1], [0, 0, 0]])
ZEROS = torch.zeros(4, dtype=torch.long)


def test_top1_accuracy_percent():
    assert top1_accuracy(torch.tensor([0, 1, 2, 1]),
                         torch.tensor([0, 1, 0, 0])) == 50.0


def test_ratio_errors_by_hand():
    # (0,1): N00 1, one wrong 2 -> 2; (0,2): N00 2, 1 -> 0.5;
    # (1,2): N00 2, 1 -> 0.5; mean 1.0
    assert ratio_errors(PREDS3, ZEROS) == pytest.approx(1.0)
    # wrong: h0 T T F F, h1 T F T F, h2 F F F T: (0,1) -> 2; (0,2) and
    # (1,2) have N00 = 0 and are skipped
    preds = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    assert ratio_errors(preds, ZEROS) == pytest.approx(2.0)
    # no pair ever wrong together: undefined
    preds = torch.tensor([[1, 0], [0, 1], [0, 0], [0, 0]])
    assert ratio_errors(preds, ZEROS) is None


def test_disagreement_by_hand():
    # (0,1): 2/4, (0,2): 1/4, (1,2): 1/4
    expected = torch.tensor([[0, 2, 1], [2, 0, 1], [1, 1, 0]],
                            dtype=torch.float64) / 4
    torch.testing.assert_close(disagreement_matrix(PREDS3), expected)
    assert pairwise_disagreement(PREDS3) == pytest.approx(1 / 3)
    # (0,1): 2/4, (0,2): 2/4, (1,2): 3/4 -> mean 7/12
    preds = torch.tensor([[0, 0, 1], [1, 1, 1], [2, 0, 2], [0, 1, 2]])
    assert pairwise_disagreement(preds) == pytest.approx(7 / 12)
