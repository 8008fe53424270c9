"""Per-sample uncertainty scores of a prediction and of its ensemble members.

Every score is float64 ``(N, )`` and higher means more uncertain.
"""
from typing import Dict, Optional

import torch
from torch import Tensor

#: Names of the scores of :func:`uncertainty_scores`; the last two need the
#: members' probabilities.
UNCERTAINTY_SCORES = ('max_prob', 'entropy', 'mutual_information',
                      'disagreement')


def _entropy(probs: Tensor) -> Tensor:
    """``-sum_k p_k log p_k`` over the last dim (nats, ``0 log 0 = 0``)."""
    return -torch.special.xlogy(probs, probs).sum(-1)


def uncertainty_scores(
        probs: Tensor,
        member_probs: Optional[Tensor] = None) -> Dict[str, Tensor]:
    """Uncertainty scores, higher = more uncertain.

    - ``max_prob``: ``1 - max_k p_k``;
    - ``entropy``: ``H(p) = -sum_k p_k log p_k`` (natural log);
    - ``mutual_information`` (with ``member_probs``):
      ``H(mean_m p_m) - mean_m H(p_m)``, the members' epistemic part;
    - ``disagreement`` (with ``member_probs``): the share of the
      ``M (M - 1) / 2`` member pairs whose argmax differ.

    Args:
        probs (Tensor): The model's probabilities ``(N, K)``
            (``pred_score``).
        member_probs (Tensor, optional): The members' probabilities
            ``(N, M, K)``, ``M >= 2``. Defaults to None.

    Returns:
        dict[str, Tensor]: float64 ``(N, )`` scores on the device of
        ``probs``, keyed by the names of :data:`UNCERTAINTY_SCORES`; the
        last two only with ``member_probs``.
    """
    probs = probs.detach().double()
    scores = dict(max_prob=1 - probs.max(dim=1).values,
                  entropy=_entropy(probs))
    if member_probs is None:
        return scores
    member_probs = member_probs.detach().to(probs.device, torch.float64)
    if member_probs.dim() != 3 or member_probs.size(1) < 2:
        raise ValueError('member_probs must be (N, M, K) with M >= 2, got '
                         f'{tuple(member_probs.shape)}')
    num_members = member_probs.size(1)
    # >= 0 by Jensen; the clamp removes float error of order 1e-16
    scores['mutual_information'] = (
        _entropy(member_probs.mean(1)) -
        _entropy(member_probs).mean(1)).clamp_min(0)
    preds = member_probs.argmax(2)
    # ordered pairs (i, j), i != j, count every unordered pair twice
    differ = (preds[:, :, None] != preds[:, None, :]).sum((1, 2))
    scores['disagreement'] = differ.double() / (num_members *
                                                (num_members - 1))
    return scores
