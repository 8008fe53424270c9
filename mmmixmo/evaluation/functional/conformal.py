"""Split conformal classification: LAC, APS and RAPS scores, sets.

``probs`` are ``(N, K)`` probabilities. A score ``s(x, k)`` says how badly
class ``k`` conforms to ``x`` (higher = worse); the set of ``x`` is every
class whose score is at most a threshold calibrated on held-out samples, so
that it holds the true class with probability ``>= 1 - alpha``.
"""
import math

import torch
from torch import Tensor

#: The scores of :func:`conformal_scores`.
CONFORMAL_SCORES = ('lac', 'aps', 'raps')


def conformal_scores(probs: Tensor,
                     score: str,
                     k_reg: int = 0,
                     lam: float = 0.0) -> Tensor:
    """The nonconformity score of every class.

    - ``'lac'`` (least ambiguous set-valued classifier, Sadinle et al.,
      2019; the "threshold" score): ``1 - p_k``;
    - ``'aps'`` (adaptive prediction sets, Romano et al., 2020): the mass of
      the classes ranked at or above ``k``, ``sum_{j: o(j) <= o(k)} p_j``,
      ``o(k)`` the 1-based rank of ``k`` by decreasing probability;
    - ``'raps'`` (regularized APS, Angelopoulos et al., 2021): APS plus
      ``lam * max(0, o(k) - k_reg)``.

    Note: APS and RAPS are the non-randomized scores (``u = 1``): a set
    is a deterministic function of the image. Equal probabilities are
    ranked by class index.

    Args:
        probs (Tensor): Probabilities ``(N, K)``.
        score (str): One of :data:`CONFORMAL_SCORES`.
        k_reg (int): RAPS: the rank from which classes pay ``lam``.
            Defaults to 0.
        lam (float): RAPS: the penalty per rank beyond ``k_reg``. Defaults
            to 0.

    Returns:
        Tensor: Scores ``(N, K)`` of the dtype of ``probs``.
    """
    if score == 'lac':
        return 1 - probs
    ranked, order = probs.sort(dim=1, descending=True, stable=True)
    mass = ranked.cumsum(dim=1)
    if score == 'raps':
        rank = torch.arange(1, probs.size(1) + 1, device=probs.device)
        mass = mass + lam * (rank - k_reg).clamp_min(0).to(mass.dtype)
    return torch.empty_like(mass).scatter_(1, order, mass)


def conformal_threshold(label_scores: Tensor, alpha: float) -> float:
    """The split-conformal threshold of the calibration samples' scores.

    The ``ceil((n + 1)(1 - alpha))``-th smallest of the ``n`` scores of the
    true labels: a new exchangeable sample's score is at most it with
    probability ``>= 1 - alpha`` (and ``< 1 - alpha + 1 / (n + 1)`` for
    scores without ties).

    Args:
        label_scores (Tensor): The true labels' scores ``(n, )``.
        alpha (float): The miscoverage level in (0, 1).

    Returns:
        float: The threshold.

    Raises:
        ValueError: If ``n < ceil((n + 1)(1 - alpha))``: too few samples for
            ``alpha`` (``n >= 1 / alpha - 1`` are needed).
    """
    num = label_scores.numel()
    # - 1e-9: (n + 1)(1 - alpha) computed a hair above an integer
    rank = math.ceil((num + 1) * (1 - alpha) - 1e-9)
    if rank > num:
        raise ValueError(
            f'alpha={alpha:g} needs at least {math.ceil(1 / alpha - 1)} '
            f'calibration samples, got {num}')
    return float(label_scores.flatten().sort().values[rank - 1])


def prediction_sets(probs: Tensor,
                    threshold: float,
                    score: str,
                    k_reg: int = 0,
                    lam: float = 0.0) -> Tensor:
    """The classes whose score is at most ``threshold``.

    Args:
        probs (Tensor): Probabilities ``(N, K)``.
        threshold (float): From :func:`conformal_threshold`.
        score, k_reg, lam: As in :func:`conformal_scores`.

    Returns:
        Tensor: Bool ``(N, K)``, True for the classes in the set (a set may
        be empty: no class conforms enough).
    """
    return conformal_scores(probs, score, k_reg, lam) <= threshold
