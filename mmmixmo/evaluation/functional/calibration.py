"""Calibration scores: NLL, bins, ECE, AECE, TACE, Brier, temperature scaling.

``probs`` and ``logits`` are float64 ``(N, K)``, ``labels`` int64 ``(N, )``;
results are Python floats, NLL in nats.
"""
import math
from typing import Dict, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

#: Smallest normal float32: a ``pred_score`` that underflowed to 0 is clamped
#: to it before the log.
PROB_EPS = torch.finfo(torch.float32).tiny
#: Search interval of ``log T`` in :func:`fit_temperature` (T in [0.05, 20.1])
#: and the final width of the bracket.
LOG_TEMPERATURE_RANGE = (-3.0, 3.0)
LOG_TEMPERATURE_TOL = 1e-6
_INV_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0
#: Rows and columns of the tiles in which the TACE functions transpose the
#: probabilities.
_TACE_TILE = (256, 64)


def ensemble_logits_from_probs(probs: Tensor) -> Tensor:
    """``log(clamp(probs, PROB_EPS))`` in float64, of the shape of ``probs``.

    Note: these are the true logits up to a per-sample constant, which
    softmax ignores even after dividing by a temperature, so temperature
    scaling on them is exact.
    """
    return probs.double().clamp_min(PROB_EPS).log()


def temperature_scaled_nll(logits: Tensor, labels: Tensor,
                           temperature: float) -> float:
    """Mean NLL of ``softmax(logits / temperature)`` (``1.0``: plain NLL)."""
    log_probs = F.log_softmax(logits / temperature, dim=1)
    return float(-log_probs.gather(1, labels[:, None]).mean())


def reliability_bins(probs: Tensor, labels: Tensor,
                     num_bins: int = 15) -> Dict[str, Tensor]:
    """Accuracy and mean confidence (max probability) per confidence bin.

    ``[0, 1]`` is cut into ``B`` equal-width right-closed bins
    ``(b / B, (b + 1) / B]``, the first one also holding 0 (Guo et al., 2017).

    Args:
        probs (Tensor): Probabilities ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.
        num_bins (int): Number of bins ``B``. Defaults to 15.

    Returns:
        dict[str, Tensor]: float64 ``counts``, ``accuracy`` and
        ``confidence`` ``(B, )`` (NaN for an empty bin), and the 0-dim
        ``ece = sum_b (n_b / N) |acc_b - conf_b|``.
    """
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    inner_edges = torch.arange(1, num_bins, dtype=torch.float64) / num_bins
    # right=False: index i such that edges[i-1] < conf <= edges[i]
    index = torch.bucketize(confidence, inner_edges, right=False)
    counts = torch.bincount(index, minlength=num_bins).double()
    sum_conf = torch.bincount(index, weights=confidence, minlength=num_bins)
    sum_correct = torch.bincount(index, weights=correct, minlength=num_bins)
    return dict(
        counts=counts,
        accuracy=sum_correct / counts,
        confidence=sum_conf / counts,
        ece=(sum_correct - sum_conf).abs().sum() / probs.size(0))


def expected_calibration_error(probs: Tensor,
                               labels: Tensor,
                               num_bins: int = 15) -> float:
    """ECE over the bins of :func:`reliability_bins`, a fraction in [0, 1]."""
    return float(reliability_bins(probs, labels, num_bins)['ece'])


def brier_score(probs: Tensor, labels: Tensor) -> float:
    """Multi-class Brier score ``mean_n sum_k (p_nk - onehot(y_n)_k)^2``.

    Note: summed over the classes, not divided by K (Brier, 1950), so its
    range is [0, 2].
    """
    one_hot = F.one_hot(labels, probs.size(1)).double()
    return float((probs - one_hot).pow(2).sum(dim=1).mean())


def fit_temperature(logits: Tensor, labels: Tensor) -> float:
    """Temperature ``T`` minimising the NLL of ``softmax(logits / T)``.

    Note: golden-section search on ``log T`` in
    :data:`LOG_TEMPERATURE_RANGE`, deterministic; the NLL is convex in
    ``1 / T``, hence unimodal in ``log T``. An optimum outside the range
    gives the nearest end.
    """
    low, high = LOG_TEMPERATURE_RANGE

    def nll(log_t: float) -> float:
        return temperature_scaled_nll(logits, labels, math.exp(log_t))

    x1 = high - _INV_GOLDEN * (high - low)
    x2 = low + _INV_GOLDEN * (high - low)
    f1, f2 = nll(x1), nll(x2)
    while high - low > LOG_TEMPERATURE_TOL:
        if f1 <= f2:  # the minimum is in [low, x2]
            high, x2, f2 = x2, x1, f1
            x1 = high - _INV_GOLDEN * (high - low)
            f1 = nll(x1)
        else:  # the minimum is in [x1, high]
            low, x1, f1 = x1, x2, f2
            x2 = low + _INV_GOLDEN * (high - low)
            f2 = nll(x2)
    return math.exp((low + high) / 2)


def two_fold_temperature_scaling(logits: Tensor,
                                 labels: Tensor,
                                 num_bins: int = 15,
                                 seed: int = 0) -> Dict[str, float]:
    """Calibrated NLL and ECE by two-fold temperature scaling.

    The MixMo paper's protocol (after Ashukha et al., 2020): the halves
    ``perm[:N // 2]`` and ``perm[N // 2:]`` of a seeded ``randperm(N)`` each
    fit a temperature that scales and scores the other half; the two scores
    are averaged.

    Args:
        logits (Tensor): Logits ``(N, K)``, ``N >= 4``.
        labels (Tensor): Class indices ``(N, )``.
        num_bins (int): Number of ECE bins. Defaults to 15.
        seed (int): Seed of the split. Defaults to 0.

    Returns:
        dict[str, float]: ``nll_c``, ``ece_c`` and ``temperature`` (mean of
        the two fitted temperatures).
    """
    num = logits.size(0)
    perm = torch.randperm(num, generator=torch.Generator().manual_seed(seed))
    halves = (perm[:num // 2], perm[num // 2:])
    nlls, eces, temperatures = [], [], []
    for fit_idx, score_idx in (halves, halves[::-1]):
        temperature = fit_temperature(logits[fit_idx], labels[fit_idx])
        scaled = logits[score_idx] / temperature
        nlls.append(temperature_scaled_nll(scaled, labels[score_idx], 1.0))
        eces.append(
            expected_calibration_error(
                F.softmax(scaled, dim=1), labels[score_idx], num_bins))
        temperatures.append(temperature)
    return dict(
        nll_c=sum(nlls) / 2,
        ece_c=sum(eces) / 2,
        temperature=sum(temperatures) / 2)


def _equal_mass_bin(rank: Tensor, size: Tensor, num_bins: int) -> Tensor:
    """Bin of the ``rank``-th of ``size`` sorted values, as ``tensor_split``.

    ``torch.tensor_split`` into ``B`` parts gives the first ``size % B``
    bins ``size // B + 1`` values and the others ``size // B``.
    """
    small, num_large = size // num_bins, size % num_bins
    in_large = num_large * (small + 1)
    return torch.where(
        rank < in_large, rank // (small + 1),
        num_large + (rank - in_large) // small.clamp_min(1))


def adaptive_calibration_error(probs: Tensor,
                               labels: Tensor,
                               num_bins: int = 15) -> float:
    """Adaptive ECE: the ECE over equal-mass bins of the top-1 confidence.

    The confidences ``max_k p_nk`` are sorted (stable) and split by
    ``torch.tensor_split`` into ``B`` bins of (almost) equal counts;
    ``AECE = sum_b (n_b / N) |acc_b - conf_b|``, empty bins skipped.

    Args:
        probs (Tensor): Probabilities ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.
        num_bins (int): Number of bins ``B``. Defaults to 15.

    Returns:
        float: The AECE in [0, 1], ``nan`` for ``N = 0``.
    """
    probs = probs.detach().double()
    num = probs.size(0)
    if num == 0:
        return math.nan
    confidence, prediction = probs.max(dim=1)
    confidence, order = torch.sort(confidence, stable=True)
    correct = (prediction == labels.to(probs.device))[order].double()
    rank = torch.arange(num, device=probs.device)
    bins = _equal_mass_bin(rank, torch.full_like(rank, num), num_bins)
    gap = (torch.bincount(bins, correct, minlength=num_bins) -
           torch.bincount(bins, confidence, minlength=num_bins))
    return float(gap.abs().sum() / num)


def _tace_bin_edges(size: int, num_bins: int,
                    rest_in_last: bool) -> np.ndarray:
    """Edges ``(B + 1, )`` of ``B`` equal-mass bins of ``size`` sorted values.

    ``rest_in_last=False``: as ``torch.tensor_split``, the first
    ``size % B`` bins hold ``size // B + 1`` values, the others
    ``size // B``; ``True``: every bin ``size // B``, the last one the rest.
    """
    small = size // num_bins
    if rest_in_last:
        edges = np.arange(num_bins + 1) * small
    else:
        edges = np.arange(num_bins + 1) * small + np.minimum(
            np.arange(num_bins + 1), size % num_bins)
    edges[-1] = size
    return edges


def _tace_bin_sums(probs: Tensor, labels: Tensor, num_bins: int,
                   threshold: float,
                   rest_in_last: bool) -> Tuple[np.ndarray, ...]:
    """Count and sums of ``p_nk`` and ``1[y_n = k]`` per (class, bin).

    For every class ``k``, the ``n_k`` probabilities ``p_nk > threshold``
    are sorted (stable: equal values in sample order) and cut into the bins
    of :func:`_tace_bin_edges`.

    Args:
        probs (Tensor): Probabilities ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.
        num_bins (int): Number of bins ``B`` per class.
        threshold (float): Probabilities ``<= threshold`` are left out.
        rest_in_last (bool): The bins of :func:`_tace_bin_edges`.

    Returns:
        tuple[np.ndarray]: float64 ``counts``, ``values`` (sum of the
        probabilities) and ``hits`` (number of samples of class ``k``),
        each ``(K, B)``.
    """
    num, num_classes = probs.shape
    # read in place if float64 on the CPU (a float32 input is copied)
    probs = probs.detach().cpu().double().numpy()
    labels = labels.cpu().numpy()
    # the samples of class k: by_class[ends[k] - sizes[k]:ends[k]]
    by_class = np.argsort(labels, kind='stable')
    sizes = np.bincount(labels, minlength=num_classes)
    ends = np.cumsum(sizes)
    counts, values, hits = (np.zeros((num_classes, num_bins))
                            for _ in range(3))
    tile_rows, tile_cols = _TACE_TILE
    columns = np.empty((min(tile_cols, num_classes), num))
    for first in range(0, num_classes, tile_cols):
        width = min(tile_cols, num_classes - first)
        # transposed tile by tile: much faster than at once
        for row in range(0, num, tile_rows):
            columns[:width, row:row + tile_rows] = probs[
                row:row + tile_rows, first:first + width].T
        for k, column in enumerate(columns[:width], first):
            kept = column > threshold
            # numpy's sort is several times faster than torch's on the CPU
            sorted_values = np.sort(column[kept])
            size = sorted_values.size
            if size == 0:
                continue
            members = by_class[ends[k] - sizes[k]:ends[k]]
            members = members[kept[members]]
            member_values = column[members]
            rank = np.searchsorted(sorted_values, member_values)
            if (np.searchsorted(sorted_values, member_values, 'right') -
                    rank > 1).any():
                # a tied value of class k: rank by the stable order
                order = np.argsort(column[kept], kind='stable')
                rank = np.empty_like(order)
                rank[order] = np.arange(size)
                rank = rank[np.cumsum(kept)[members] - 1]
            edges = _tace_bin_edges(size, num_bins, rest_in_last)
            counts[k] = np.diff(edges)
            filled = counts[k] > 0
            values[k, filled] = np.add.reduceat(sorted_values,
                                                edges[:-1][filled])
            hits[k] = np.bincount(
                np.searchsorted(edges, rank, 'right') - 1,
                minlength=num_bins)
    return counts, values, hits


def thresholded_adaptive_calibration_error(probs: Tensor,
                                           labels: Tensor,
                                           num_bins: int = 15,
                                           threshold: float = 1e-3) -> float:
    """Thresholded adaptive calibration error (TACE) over all classes.

    Nixon et al., 2019, "Measuring Calibration in Deep Learning": for every
    class ``k``, the probabilities ``p_nk > threshold`` are sorted (stable)
    and split as by ``torch.tensor_split`` into ``B`` equal-mass bins (the
    first ``n_k % B`` bins one value more);
    ``TACE = mean_(k, b) |mean_{n in b} 1[y_n = k] - mean_{n in b} p_nk|``
    over the non-empty (class, bin) pairs: Nixon's ``1 / (K B)`` sum when
    every class fills its ``B`` bins.

    Args:
        probs (Tensor): Probabilities ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.
        num_bins (int): Number of bins ``B`` per class. Defaults to 15.
        threshold (float): Probabilities ``<= threshold`` are ignored.
            Defaults to 1e-3.

    Returns:
        float: The TACE in [0, 1], ``nan`` if no probability exceeds
        ``threshold``.
    """
    counts, values, hits = _tace_bin_sums(probs, labels, num_bins,
                                          threshold, False)
    filled = counts > 0
    if not filled.any():
        return math.nan
    return float(
        np.mean(np.abs(hits[filled] - values[filled]) / counts[filled]))


def mixmo_thresholded_adaptive_calibration_error(
        probs: Tensor,
        labels: Tensor,
        num_bins: int = 15,
        threshold: float = 1e-3) -> float:
    """TACE as the MixMo authors compute it (``get_tace_bayesgroup``).

    For every class ``k``, the ``n_k`` probabilities ``p_nk > threshold``
    are sorted (stable) and cut into ``B`` bins of ``n_k // B`` values, the
    last one taking the rest; every bin ``b`` adds
    ``|mean_{n in b} p_nk - mean_{n in b} 1[y_n = k]| n_b / (N K)``, i.e.
    ``TACE = sum_(k, b) |sum_{n in b} (p_nk - 1[y_n = k])| / (N K)``.
    Unlike :func:`thresholded_adaptive_calibration_error`, the weight uses
    all ``N`` samples, not ``n_k``: a class with many probabilities under
    the threshold counts less.

    Note: an empty bin (a class with ``n_k < B``) adds 0 here, where the
    authors' code gives NaN: such a class is one bin of its ``n_k`` values
    (none if ``n_k = 0``). The two agree whenever theirs is a number.

    Args:
        probs (Tensor): Probabilities ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.
        num_bins (int): Number of bins ``B`` per class. Defaults to 15.
        threshold (float): Probabilities ``<= threshold`` are ignored.
            Defaults to 1e-3.

    Returns:
        float: The TACE in [0, 1], ``nan`` if no probability exceeds
        ``threshold``.
    """
    counts, values, hits = _tace_bin_sums(probs, labels, num_bins,
                                          threshold, True)
    if not counts.any():
        return math.nan
    return float(np.abs(values - hits).sum() / probs.numel())
