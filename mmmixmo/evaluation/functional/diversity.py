"""Accuracy and diversity between the heads (subnetworks) of an ensemble.

Predictions are class indices: ``head_preds`` is ``(N, M)`` (the argmax of
each head's logits), ``labels`` is ``(N, )``. Results are Python floats.
"""
from itertools import combinations
from typing import Optional, Tuple

import torch
from torch import Tensor


def _check_head_preds(head_preds: Tensor,
                      labels: Tensor) -> Tuple[Tensor, Tensor]:
    """Validate ``(N, M)`` head predictions against ``(N, )`` labels."""
    head_preds = torch.as_tensor(head_preds).detach().cpu().long()
    labels = torch.as_tensor(labels).detach().cpu().long().reshape(-1)
    if head_preds.dim() != 2:
        raise ValueError('`head_preds` must have shape (N, M), got '
                         f'{tuple(head_preds.shape)}')
    if head_preds.size(0) != labels.numel():
        raise ValueError(f'`head_preds` has {head_preds.size(0)} rows but '
                         f'there are {labels.numel()} labels')
    if head_preds.size(0) == 0:
        raise ValueError('`head_preds` is empty: nothing to evaluate')
    return head_preds, labels


def top1_accuracy(preds: Tensor, labels: Tensor) -> float:
    """Top-1 accuracy of predicted class indices, in percent.

    Args:
        preds (Tensor): Predicted class indices of shape ``(N, )``.
        labels (Tensor): Class indices of shape ``(N, )``.

    Returns:
        float: ``100 * mean(preds == labels)``, in ``[0, 100]`` like
        mmpretrain's ``Accuracy``.
    """
    preds = torch.as_tensor(preds).detach().cpu().long().reshape(-1)
    labels = torch.as_tensor(labels).detach().cpu().long().reshape(-1)
    if preds.numel() != labels.numel() or preds.numel() == 0:
        raise ValueError(f'got {preds.numel()} predictions for '
                         f'{labels.numel()} labels')
    return float((preds == labels).double().mean() * 100)


def ratio_errors(head_preds: Tensor, labels: Tensor) -> Optional[float]:
    """Ratio-errors diversity (Aksela, 2003), averaged over head pairs.

    For heads ``i < j``: ``N00`` counts the samples both get wrong, ``N01`` /
    ``N10`` those exactly one of them gets wrong, and the pair's ratio is
    ``(N01 + N10) / N00``; higher means more diverse errors. Pairs with
    ``N00 == 0`` (the ratio is undefined) are skipped rather than counted as
    ``inf``; the result is the mean over the remaining pairs.

    Args:
        head_preds (Tensor): Predicted class indices ``(N, M)``, ``M >= 2``.
        labels (Tensor): Class indices of shape ``(N, )``.

    Returns:
        float | None: The mean ratio (dimensionless, ``>= 0``), or None if
        every pair has ``N00 == 0``.
    """
    head_preds, labels = _check_head_preds(head_preds, labels)
    if head_preds.size(1) < 2:
        raise ValueError('ratio-errors needs at least 2 heads, got '
                         f'{head_preds.size(1)}')
    wrong = head_preds != labels[:, None]
    ratios = []
    for i, j in combinations(range(head_preds.size(1)), 2):
        both_wrong = int((wrong[:, i] & wrong[:, j]).sum())
        one_wrong = int((wrong[:, i] ^ wrong[:, j]).sum())
        if both_wrong > 0:
            ratios.append(one_wrong / both_wrong)
    if not ratios:
        return None
    return sum(ratios) / len(ratios)


def pairwise_disagreement(head_preds: Tensor) -> float:
    """Mean over head pairs of the fraction of samples they classify apart.

    Args:
        head_preds (Tensor): Predicted class indices ``(N, M)``, ``M >= 2``.

    Returns:
        float: Disagreement as a fraction in ``[0, 1]`` (not a percentage).
    """
    head_preds = torch.as_tensor(head_preds).detach().cpu().long()
    if head_preds.dim() != 2 or head_preds.size(0) == 0 \
            or head_preds.size(1) < 2:
        raise ValueError('`head_preds` must have shape (N, M) with N >= 1 '
                         f'and M >= 2, got {tuple(head_preds.shape)}')
    fractions = [
        float((head_preds[:, i] != head_preds[:, j]).double().mean())
        for i, j in combinations(range(head_preds.size(1)), 2)
    ]
    return sum(fractions) / len(fractions)
