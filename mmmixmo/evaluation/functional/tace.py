"""Thresholded adaptive calibration errors: Nixon et al.'s and the MixMo
authors', computed together from the probabilities above the threshold.

For every class ``k``, the ``n_k`` probabilities ``p_nk > threshold`` are
sorted (stable: equal values in sample order) and binned by rank; only
those probabilities are read and sorted, by groups of classes of at most
``_GROUP`` of them (bounded memory).
"""
import math
from typing import List, Tuple

import numpy as np
import torch
from torch import Tensor

#: Most probabilities sorted at once.
_GROUP = 2**21
#: Rows of ``probs`` compared with the threshold at once.
_ROWS = 256


def equal_mass_bin(rank: np.ndarray, size: np.ndarray,
                   num_bins: int) -> np.ndarray:
    """Bin of the ``rank``-th of ``size`` sorted values, as ``tensor_split``.

    ``torch.tensor_split`` into ``B`` parts gives the first ``size % B``
    bins ``size // B + 1`` values and the others ``size // B``.
    """
    small, num_large = size // num_bins, size % num_bins
    in_large = num_large * (small + 1)
    return np.where(rank < in_large, rank // (small + 1),
                    num_large + (rank - in_large) // np.maximum(small, 1))


def _class_groups(sizes: np.ndarray) -> List[Tuple[int, int]]:
    """Ranges ``(k0, k1)`` of classes holding at most ``_GROUP`` values
    (or one class)."""
    groups, start, held = [], 0, 0
    for k, size in enumerate(sizes.tolist()):
        if held and held + size > _GROUP:
            groups.append((start, k))
            start, held = k, 0
        held += size
    return groups + [(start, len(sizes))]


def _sort_and_rank(values: np.ndarray, sizes: np.ndarray,
                   hits: np.ndarray) -> np.ndarray:
    """Sort each class's values in place; the ranks of its hits in them.

    Args:
        values (np.ndarray): The values of consecutive classes, each in
            sample order, the ``sizes[i]`` of class ``i`` after those of
            the classes before.
        sizes (np.ndarray): Number of values of each class.
        hits (np.ndarray): Positions in ``values`` of the values of the
            samples of their class, ascending.

    Returns:
        np.ndarray: The rank of each hit in its class's sorted values; equal
        values rank in sample order.
    """
    ends = np.cumsum(sizes)
    hit_ends = np.searchsorted(hits, ends)
    ranks = np.empty(hits.size, dtype=np.int64)
    hit_start = 0
    for start, end, hit_end in zip((ends - sizes).tolist(), ends.tolist(),
                                   hit_ends.tolist()):
        part = values[start:end]
        if hit_start == hit_end:
            part.sort()
            continue
        positions = hits[hit_start:hit_end] - start
        wanted = part[positions]
        ordered = np.sort(part)
        rank = np.searchsorted(ordered, wanted)
        if (np.searchsorted(ordered, wanted, 'right') - rank > 1).any():
            # a tied value of a hit: rank by the stable order
            order = np.argsort(part, kind='stable')
            rank = np.empty_like(order)
            rank[order] = np.arange(order.size)
            rank = rank[positions]
        ranks[hit_start:hit_end] = rank
        part[:] = ordered
        hit_start = hit_end
    return ranks


def tace_pair(classes: np.ndarray, values: np.ndarray, hits: np.ndarray,
              num_samples: int, num_classes: int,
              num_bins: int) -> Tuple[float, float]:
    """Both TACEs of the probabilities above a threshold.

    Args:
        classes (np.ndarray): Integer class indices ``k`` of the kept
            probabilities ``p_nk``, in sample order (``n`` ascending).
        values (np.ndarray): Their float64 values ``p_nk``.
        hits (np.ndarray): Bool, ``k = y_n``.
        num_samples (int): Number of samples ``N``.
        num_classes (int): Number of classes ``K``.
        num_bins (int): Number of bins ``B`` per class.

    Returns:
        tuple[float, float]: :func:`thresholded_adaptive_calibration_error`
        and :func:`mixmo_thresholded_adaptive_calibration_error`.
    """
    # int16 for the radix sort of numpy's stable argsort
    classes = classes.astype(
        np.int16 if num_classes < 2**15 else np.int64, copy=False)
    sizes = np.bincount(classes, minlength=num_classes)
    if not sizes.any():
        return math.nan, math.nan
    starts = np.cumsum(sizes) - sizes
    # bin edges (K, B + 1) in each class's sorted values: tensor_split's
    # and the MixMo authors' (floor(n_k / B) each, the last one the rest)
    steps, small = np.arange(num_bins + 1), sizes[:, None] // num_bins
    last = np.minimum(steps * small, sizes[:, None])
    last[:, -1] = sizes
    edges = (steps * small + np.minimum(steps, sizes[:, None] % num_bins),
             last)
    value_sums, hit_counts = np.zeros((2, 2, num_classes, num_bins))
    for first, end in _class_groups(sizes):
        group = slice(None)
        if (first, end) != (0, num_classes):
            group = np.flatnonzero((classes >= first) & (classes < end))
        # class-major, each class in sample order (np.take: faster than
        # indexing)
        order = np.argsort(classes[group], kind='stable')
        probs = np.take(values[group], order)
        group_classes = np.take(classes[group], order)
        # the kept p_nk of the samples of class k (y_n = k)
        hit_index = np.flatnonzero(np.take(hits[group], order))
        ranks = _sort_and_rank(probs, sizes[first:end], hit_index)
        hit_classes = group_classes[hit_index].astype(np.int64)
        del group_classes
        hit_sizes = sizes[hit_classes]
        hit_small = hit_sizes // num_bins
        hit_bins = (equal_mass_bin(ranks, hit_sizes, num_bins),
                    np.where(hit_small > 0,
                             np.minimum(ranks // np.maximum(hit_small, 1),
                                        num_bins - 1), num_bins - 1))
        for mode, class_edges in enumerate(edges):
            class_edges = class_edges[first:end]
            bin_starts = (starts[first:end, None] - starts[first] +
                          class_edges[:, :-1]).reshape(-1)
            filled = np.diff(class_edges, axis=1).reshape(-1) > 0
            value_sums[mode, first:end].reshape(-1)[filled] = \
                np.add.reduceat(probs, bin_starts[filled])
            hit_counts[mode] += np.bincount(
                hit_classes * num_bins + hit_bins[mode],
                minlength=num_classes * num_bins).reshape(num_classes, -1)
    counts = np.diff(edges[0], axis=1)
    filled = counts > 0
    tace = float(np.mean(np.abs(hit_counts[0] - value_sums[0])[filled] /
                         counts[filled]))
    return tace, float(
        np.abs(value_sums[1] - hit_counts[1]).sum() /
        (num_samples * num_classes))


def _tace_of_probs(probs: Tensor, labels: Tensor, num_bins: int,
                   threshold: float) -> Tuple[float, float]:
    """:func:`tace_pair` of the probabilities ``(N, K)``."""
    flat = probs.detach().cpu().reshape(-1)
    num_classes = probs.size(1)
    step = _ROWS * num_classes
    kept = np.concatenate([
        np.flatnonzero(flat[start:start + step].double().numpy() >
                       threshold) + start
        for start in range(0, flat.numel(), step)
    ] or [np.empty(0, np.int64)])
    rows, classes = np.divmod(kept, num_classes)
    return tace_pair(classes, flat[torch.from_numpy(kept)].double().numpy(),
                     labels.cpu().numpy()[rows] == classes, len(labels),
                     num_classes, num_bins)


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
    return _tace_of_probs(probs, labels, num_bins, threshold)[0]


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
    return _tace_of_probs(probs, labels, num_bins, threshold)[1]
