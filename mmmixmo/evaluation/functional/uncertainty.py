"""Per-sample uncertainty scores of a prediction and of its ensemble members.

Every score is float64 ``(N, )`` and higher means more uncertain.
"""
from typing import Dict, Optional

import torch
from torch import Tensor

#: Names of the scores of :func:`uncertainty_scores`; ``mutual_information``
#: and ``disagreement`` need the members' probabilities, ``energy`` and
#: ``max_logit`` the logits.
UNCERTAINTY_SCORES = ('max_prob', 'entropy', 'mutual_information',
                      'disagreement', 'energy', 'max_logit')


def _entropy(probs: Tensor) -> Tensor:
    """``-sum_k p_k log p_k`` over the last dim (nats, ``0 log 0 = 0``)."""
    return -torch.special.xlogy(probs, probs).sum(-1)


def ood_logits(member_logits: Optional[Tensor],
               ensemble_logits: Optional[Tensor],
               temperature: float = 1.0) -> Optional[Tensor]:
    """The logits of the ``energy`` and ``max_logit`` scores.

    The mean of the members' logits divided by ``temperature`` when
    ``member_logits`` is given (MixMo averaging logits: its ensemble logits;
    MIMO and deep ensembles averaging probabilities have log-probabilities
    as ensemble logits, whose logsumexp is 0), else ``ensemble_logits``
    (already divided by the temperature), else None.

    Args:
        member_logits (Tensor, optional): The members' logits ``(..., M, K)``.
        ensemble_logits (Tensor, optional): The model's logits ``(..., K)``.
        temperature (float): The model's temperature, > 0 (1: not
            calibrated). Defaults to 1.0.

    Returns:
        Tensor, optional: float64 logits ``(..., K)``, or None without
        either input.
    """
    if member_logits is not None:
        return member_logits.detach().double().mean(-2) / temperature
    if ensemble_logits is not None:
        return ensemble_logits.detach().double()
    return None


def uncertainty_scores(probs: Tensor,
                       member_probs: Optional[Tensor] = None,
                       logits: Optional[Tensor] = None) -> Dict[str, Tensor]:
    """Uncertainty scores, higher = more uncertain.

    - ``max_prob``: ``1 - max_k p_k``;
    - ``entropy``: ``H(p) = -sum_k p_k log p_k`` (natural log);
    - ``mutual_information`` (with ``member_probs``):
      ``H(mean_m p_m) - mean_m H(p_m)``, the members' epistemic part;
    - ``disagreement`` (with ``member_probs``): the share of the
      ``M (M - 1) / 2`` member pairs whose argmax differ;
    - ``energy`` (with ``logits``): ``-log sum_k exp(z_k)``, the free
      energy of Liu et al., 2020 at temperature 1;
    - ``max_logit`` (with ``logits``): ``-max_k z_k`` (Hendrycks et al.,
      2022).

    Args:
        probs (Tensor): The model's probabilities ``(N, K)``
            (``pred_score``).
        member_probs (Tensor, optional): The members' probabilities
            ``(N, M, K)``, ``M >= 2``. Defaults to None.
        logits (Tensor, optional): The model's logits ``(N, K)``, see
            :func:`ood_logits`. Defaults to None.

    Returns:
        dict[str, Tensor]: float64 ``(N, )`` scores on the device of
        ``probs``, keyed by the names of :data:`UNCERTAINTY_SCORES` in their
        order; ``mutual_information`` and ``disagreement`` only with
        ``member_probs``, ``energy`` and ``max_logit`` only with ``logits``.
    """
    probs = probs.detach().double()
    scores = dict(max_prob=1 - probs.max(dim=1).values,
                  entropy=_entropy(probs))
    if member_probs is not None:
        member_probs = member_probs.detach().to(probs.device, torch.float64)
        if member_probs.dim() != 3 or member_probs.size(1) < 2:
            raise ValueError('member_probs must be (N, M, K) with M >= 2, '
                             f'got {tuple(member_probs.shape)}')
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
    if logits is not None:
        logits = logits.detach().to(probs.device, torch.float64)
        if logits.shape != probs.shape:
            raise ValueError(f'logits must be (N, K) = {tuple(probs.shape)} '
                             f'like probs, got {tuple(logits.shape)}')
        scores['energy'] = -torch.logsumexp(logits, dim=1)
        scores['max_logit'] = -logits.max(dim=1).values
    return scores
