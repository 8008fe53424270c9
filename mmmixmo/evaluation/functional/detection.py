"""Binary detection scores: ROC curve, AUROC, average precision, FPR at TPR.

``scores`` are float ``(N, )``, higher meaning more positive; ``positives``
are bool ``(N, )``. Computed in float64 on the CPU; scalars are Python
floats, ``nan`` when only one class is present.
"""
import math
from typing import Tuple

import torch
from torch import Tensor


def distinct_counts(scores: Tensor,
                    positives: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Cumulative true and false positives at each distinct threshold.

    Returns:
        tuple[Tensor, Tensor, Tensor]: float64 ``tps``, ``fps`` and the
        distinct ``thresholds`` ``(T, )``, thresholds descending; point
        ``j`` counts the samples with ``score >= thresholds[j]``.
    """
    scores = scores.detach().to('cpu', torch.float64).flatten()
    positives = positives.detach().to('cpu', torch.bool).flatten()
    if scores.numel() != positives.numel():
        raise ValueError(f'scores ({scores.numel()}) and positives '
                         f'({positives.numel()}) differ in length')
    order = torch.argsort(scores, descending=True, stable=True)
    scores, positives = scores[order], positives[order]
    # last index of each run of equal scores
    last = torch.ones_like(scores, dtype=torch.bool)
    last[:-1] = scores[1:] != scores[:-1]
    tps = positives.double().cumsum(0)
    fps = (~positives).double().cumsum(0)
    return tps[last], fps[last], scores[last]


def roc_curve(scores: Tensor,
              positives: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """ROC curve with one point per distinct score.

    As scikit-learn's ``roc_curve(drop_intermediate=False)``: the first point
    is ``(0, 0)`` at threshold ``+inf``, then the point of each distinct
    score ``t`` in descending order: ``fpr = #{neg: s >= t} / #neg``,
    ``tpr = #{pos: s >= t} / #pos``.

    Args:
        scores (Tensor): Scores ``(N, )``, higher = more positive.
        positives (Tensor): Bool ``(N, )``, True for the positive class.

    Returns:
        tuple[Tensor, Tensor, Tensor]: CPU float64 ``fpr``, ``tpr`` and
        ``thresholds`` ``(T + 1, )``; ``fpr`` (``tpr``) is ``nan`` when
        there is no negative (positive).
    """
    tps, fps, thresholds = distinct_counts(scores, positives)
    zero = tps.new_zeros(1)
    tps, fps = torch.cat([zero, tps]), torch.cat([zero, fps])
    thresholds = torch.cat([zero.new_full((1, ), math.inf), thresholds])
    # 0 / 0 = nan for an absent class
    return fps / fps[-1], tps / tps[-1], thresholds


def _one_class(tps: Tensor, fps: Tensor) -> bool:
    return tps.numel() == 0 or tps[-1] == 0 or fps[-1] == 0


def auroc(scores: Tensor, positives: Tensor) -> float:
    """Area under the ROC curve (trapezoidal rule over :func:`roc_curve`).

    Equals ``P(s_pos > s_neg) + P(s_pos = s_neg) / 2``, scikit-learn's
    ``roc_auc_score``.

    Args:
        scores (Tensor): Scores ``(N, )``, higher = more positive.
        positives (Tensor): Bool ``(N, )``.

    Returns:
        float: The AUROC in [0, 1], ``nan`` with a single class.
    """
    fpr, tpr, _ = roc_curve(scores, positives)
    if fpr.isnan().any() or tpr.isnan().any():
        return math.nan
    return float(torch.trapezoid(tpr, fpr))


def average_precision(scores: Tensor, positives: Tensor) -> float:
    """Average precision, scikit-learn's ``average_precision_score``.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct thresholds in
    descending order, ``R_n`` and ``P_n`` the recall and precision of the
    samples with ``score >= t_n``, ``R_0 = 0`` (no interpolation).

    Args:
        scores (Tensor): Scores ``(N, )``, higher = more positive.
        positives (Tensor): Bool ``(N, )``.

    Returns:
        float: The AP in [0, 1], ``nan`` with a single class.
    """
    tps, fps, _ = distinct_counts(scores, positives)
    if _one_class(tps, fps):
        return math.nan
    precision = tps / (tps + fps)
    recall_step = torch.diff(tps, prepend=tps.new_zeros(1)) / tps[-1]
    return float((recall_step * precision).sum())


def fpr_at_tpr(scores: Tensor, positives: Tensor, tpr: float = 0.95) -> float:
    """FPR at the first point of :func:`roc_curve` whose TPR is ``>= tpr``.

    Args:
        scores (Tensor): Scores ``(N, )``, higher = more positive.
        positives (Tensor): Bool ``(N, )``.
        tpr (float): Target true positive rate in [0, 1]. Defaults to 0.95.

    Returns:
        float: The FPR in [0, 1], ``nan`` with a single class.
    """
    fprs, tprs, _ = roc_curve(scores, positives)
    if fprs.isnan().any() or tprs.isnan().any():
        return math.nan
    # tprs is non-decreasing and ends at 1, so a point always exists
    index = int(torch.searchsorted(tprs, tprs.new_tensor([tpr]))[0])
    return float(fprs[min(index, fprs.numel() - 1)])
