"""Accuracy of and diversity between the heads of an ensemble.

Predictions are int64 class indices: ``head_preds`` ``(N, M)``, ``labels``
``(N, )``; results are Python floats.
"""
from itertools import combinations
from typing import Optional

from torch import Tensor


def top1_accuracy(preds: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy in percent of predicted class indices ``(N, )``."""
    return float((preds == labels).double().mean() * 100)


def disagreement_matrix(head_preds: Tensor) -> Tensor:
    """Fraction of samples on which heads ``i`` and ``j`` predict apart.

    Returns:
        Tensor: float64 ``(M, M)``, symmetric, 0 on the diagonal.
    """
    return (head_preds[:, :, None] != head_preds[:, None, :]).double().mean(0)


def pairwise_disagreement(head_preds: Tensor) -> float:
    """Mean of :func:`disagreement_matrix` over the pairs of heads (M >= 2)."""
    matrix = disagreement_matrix(head_preds)
    pairs = list(combinations(range(matrix.size(0)), 2))
    return sum(float(matrix[i, j]) for i, j in pairs) / len(pairs)


def ratio_errors(head_preds: Tensor, labels: Tensor) -> Optional[float]:
    """Ratio-errors diversity (Aksela, 2003), mean over pairs of heads.

    A pair's ratio is ``(N01 + N10) / N00``: samples exactly one head gets
    wrong over samples both get wrong. Note: pairs with ``N00 == 0`` are
    skipped (undefined ratio) rather than counted as infinite.

    Returns:
        float | None: The mean ratio, None if every pair has ``N00 == 0``.
    """
    wrong = head_preds != labels[:, None]
    ratios = []
    for i, j in combinations(range(head_preds.size(1)), 2):
        both_wrong = int((wrong[:, i] & wrong[:, j]).sum())
        if both_wrong:
            ratios.append(int((wrong[:, i] ^ wrong[:, j]).sum()) / both_wrong)
    return sum(ratios) / len(ratios) if ratios else None
