"""Selective prediction: risk-coverage curve, AURC, accuracy at coverage.

``confidence`` is float ``(N, )``, higher meaning more confident;
``correct`` is bool ``(N, )``. Computed in float64 on the CPU; scalars are
Python floats, ``nan`` for an empty input.
"""
import math
from typing import Tuple

import torch
from torch import Tensor

from .detection import distinct_counts


def risk_coverage_curve(confidence: Tensor,
                        correct: Tensor) -> Tuple[Tensor, Tensor]:
    """Risk-coverage curve with one point per distinct confidence.

    For each distinct confidence ``t`` from the largest: ``coverage =
    #{n: c_n >= t} / N`` and ``risk`` = the error rate of those samples.

    Args:
        confidence (Tensor): Confidences ``(N, )``.
        correct (Tensor): Bool ``(N, )``, True for a correct prediction.

    Returns:
        tuple[Tensor, Tensor]: CPU float64 ``coverage`` (increasing, ending
        at 1) and ``risk`` ``(T, )``.
    """
    # the errors and the correct predictions kept at each threshold
    errors, hits, _ = distinct_counts(confidence, ~correct.bool())
    kept = errors + hits
    return kept / correct.numel(), errors / kept


def aurc(confidence: Tensor, correct: Tensor) -> float:
    """Area under the risk-coverage curve (Geifman et al., 2019).

    ``AURC = sum_j (coverage_j - coverage_{j-1}) risk_j`` with
    ``coverage_0 = 0``: without ties, the mean over ``k`` of the error rate
    of the ``k`` most confident samples.

    Args:
        confidence (Tensor): Confidences ``(N, )``.
        correct (Tensor): Bool ``(N, )``.

    Returns:
        float: The AURC in [0, 1] (lower is better).
    """
    coverage, risk = risk_coverage_curve(confidence, correct)
    if coverage.numel() == 0:
        return math.nan
    steps = torch.diff(coverage, prepend=coverage.new_zeros(1))
    return float((steps * risk).sum())


def accuracy_at_coverage(confidence: Tensor, correct: Tensor,
                         coverage: float) -> float:
    """Accuracy in % of the ``ceil(coverage * N)`` most confident samples.

    Note: ties are broken by index order (stable sort); ``coverage * N`` is
    rounded to 6 decimals before the ceiling so that e.g. ``0.95 * 20``
    keeps 19 samples despite float error.

    Args:
        confidence (Tensor): Confidences ``(N, )``.
        correct (Tensor): Bool ``(N, )``.
        coverage (float): Share of samples kept, in (0, 1].

    Returns:
        float: The accuracy in percent.
    """
    if not 0 < coverage <= 1:
        raise ValueError(f'coverage must be in (0, 1], got {coverage}')
    if confidence.numel() != correct.numel():
        raise ValueError(f'confidence ({confidence.numel()}) and correct '
                         f'({correct.numel()}) differ in length')
    if correct.numel() == 0:
        return math.nan
    order = torch.argsort(
        confidence.detach().flatten().cpu(), descending=True, stable=True)
    correct = correct.detach().flatten().cpu()[order]
    num_kept = max(1, math.ceil(round(coverage * correct.numel(), 6)))
    return float(correct[:num_kept].double().mean() * 100)
