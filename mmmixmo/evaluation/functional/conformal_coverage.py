"""Coverage and sizes of prediction sets, overall and by set size.

``sets`` are bool ``(N, K)`` (True: the class is in the sample's set),
``labels`` int64 ``(N, )``; results are Python floats.
"""
from typing import Dict

from torch import Tensor

#: Set-size buckets ``(name, smallest, largest)`` of
#: :func:`size_stratified_coverage` (after Angelopoulos et al., 2021, RAPS).
SET_SIZE_BUCKETS = (('0', 0, 0), ('1', 1, 1), ('2-3', 2, 3), ('4-10', 4, 10),
                    ('11-100', 11, 100), ('101-1000', 101, 1000),
                    ('>1000', 1001, None))


def set_sizes(sets: Tensor) -> Tensor:
    """The number of classes in each set, int64 ``(N, )``."""
    return sets.sum(dim=1)


def set_coverage(sets: Tensor, labels: Tensor) -> float:
    """The share of samples whose label is in their set, ``nan`` for N = 0.

    Args:
        sets (Tensor): Prediction sets ``(N, K)`` bool.
        labels (Tensor): Class indices ``(N, )``.

    Returns:
        float: The coverage in [0, 1].
    """
    return float(_covered(sets, labels).double().mean())


def size_stratified_coverage(sets: Tensor, labels: Tensor) -> Dict[str, float]:
    """The coverage of the samples of each set-size bucket.

    Note: an empty set covers nothing, so the bucket ``'0'`` has coverage 0
    and the minimum over the buckets (the size-stratified coverage, SSC) is
    0 as soon as a set is empty.

    Args:
        sets (Tensor): Prediction sets ``(N, K)`` bool.
        labels (Tensor): Class indices ``(N, )``.

    Returns:
        dict[str, float]: Bucket name of :data:`SET_SIZE_BUCKETS` -> the
        coverage of its samples, in [0, 1], for the buckets with samples,
        in the order of :data:`SET_SIZE_BUCKETS`.
    """
    return coverage_by_size(set_sizes(sets), _covered(sets, labels))


def coverage_by_size(sizes: Tensor, covered: Tensor) -> Dict[str, float]:
    """:func:`size_stratified_coverage` of the set sizes ``(N, )`` and
    whether each set covers its label, bool ``(N, )``."""
    covered = covered.double()
    strata = {}
    for name, smallest, largest in SET_SIZE_BUCKETS:
        in_bucket = sizes >= smallest
        if largest is not None:
            in_bucket &= sizes <= largest
        if in_bucket.any():
            strata[name] = float(covered[in_bucket].mean())
    return strata


def _covered(sets: Tensor, labels: Tensor) -> Tensor:
    """Whether each label is in its set, bool ``(N, )``."""
    return sets.gather(1, labels.to(sets.device)[:, None])[:, 0]
