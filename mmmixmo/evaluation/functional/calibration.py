"""Calibration scores: NLL, bins, ECE, AECE, Brier, temperature scaling.

``probs`` are float ``(N, K)``, ``labels`` int64 ``(N, )``. ``logits`` are
a float ``(N, K)`` tensor, or float numpy blocks ``(n_i, K)`` of its rows
minus each row's maximum (as
:class:`~mmmixmo.evaluation.metrics.CalibrationMetric` stores them, one per
batch): they are read in cache-sized chunks, never stacked, and computed in
float64 (the temperature fit excepted, see :func:`fit_temperature`).
Results are Python floats, NLL in nats.
"""
import math
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from .tace import equal_mass_bin, tace_pair

#: Logits ``(N, K)``, or blocks of their rows minus each row's maximum.
Logits = Union[Tensor, Sequence[np.ndarray]]
#: Smallest normal float32: a ``pred_score`` that underflowed to 0 is clamped
#: to it before the log.
PROB_EPS = torch.finfo(torch.float32).tiny
#: Range of ``log T`` in :func:`fit_temperature` (T in [0.05, 20.1]) and the
#: accuracy of the fitted ``log T``.
LOG_TEMPERATURE_RANGE = (-3.0, 3.0)
LOG_TEMPERATURE_TOL = 1e-6
#: The fit stops after a step of relative size under this: the step solves
#: the slope's Taylor polynomial of degree 4, the error left is of the order
#: of its fifth power (3e-7; measured: under 1e-7, the float32 rounding, on
#: 48 sets of 20 to 1,000 classes). It also stops on a bracket of relative
#: width ``_LAST_BRACKET``.
_LAST_STEP, _LAST_BRACKET = 5e-2, 1e-9
#: The fit starts from the fit on every ``_SUBSAMPLE``-th row when there
#: are at least ``_SUBSAMPLE * _MIN_ROWS`` rows per part.
_SUBSAMPLE, _MIN_ROWS = 16, 512
#: Logits per chunk (1 MiB in float64: the chunk stays in the CPU caches).
_CHUNK = 2**17
#: ``exp(x) = exp2(x * _LOG2_E)``: torch's exp2 is several times faster
#: than its exp on the CPU (float32: 0.34 vs 1.17 ns per value measured),
#: within the rounding of the argument.
_LOG2_E = 1 / math.log(2)


def _num_classes(logits: Logits) -> int:
    """K of logits ``(N, K)`` or of their blocks."""
    if isinstance(logits, Tensor):
        return logits.size(1)
    return logits[0].shape[1] if len(logits) else 0


def _num_rows(logits: Logits) -> int:
    """N of logits ``(N, K)`` or of their blocks."""
    if isinstance(logits, Tensor):
        return len(logits)
    return sum(len(block) for block in logits)


def _every(logits: Logits, step: int) -> Logits:
    """Rows ``0, step, 2 step, ...`` of logits: strided views, in one copy
    if the blocks are short (each chunk is an operation)."""
    if isinstance(logits, Tensor):
        return logits[::step]
    parts, start = [], 0
    for block in logits:
        parts.append(block[-start % step::step])
        start += len(block)
    if sum(len(part) for part in parts) < 32 * len(parts):
        return [np.concatenate(parts)]
    return parts


def _row_chunks(logits: Logits, dtype: torch.dtype, centred: bool,
                *tensors: Tensor) -> Iterator[Tuple[Tensor, List[Tensor]]]:
    """Chunks of the rows of ``logits`` in ``dtype`` and those of the
    ``(N, ...)`` tensors.

    Args:
        logits (Tensor | Sequence[np.ndarray]): Logits ``(N, K)``.
        dtype (torch.dtype): Type of the chunks.
        centred (bool): Each row minus its maximum, to be only read: the
            blocks' own rows (views) if already in ``dtype``. Else a copy
            of the rows as given, which the caller may overwrite.
        *tensors (Tensor): Tensors ``(N, ...)`` chunked alike.

    Note: copies go to one reused buffer: a new array per chunk costs its
    page faults again (arrays of that size are mapped anew).
    """
    num_classes = _num_classes(logits)
    step = max(1, _CHUNK // max(1, num_classes))
    buffer = None
    start = 0
    given = isinstance(logits, Tensor)  # else centred numpy blocks
    for block in ([logits] if given else logits):
        block = torch.as_tensor(block)
        for first in range(0, len(block), step):
            part = block[first:first + step]
            if not centred or given or part.dtype != dtype:
                if buffer is None:
                    buffer = torch.empty(step, num_classes, dtype=dtype)
                part = buffer[:len(part)].copy_(part)
                if centred and given:
                    part.sub_(part.amax(dim=1, keepdim=True))
            yield part, [t[start:start + len(part)] for t in tensors]
            start += len(part)


def _scratch(buffer: Optional[Tensor],
             chunk: Tensor) -> Tuple[Tensor, Tensor]:
    """A buffer of at least the rows of ``chunk`` and its first rows, of
    the shape of ``chunk``."""
    if buffer is None or len(buffer) < len(chunk):
        buffer = torch.empty_like(chunk, memory_format=torch.contiguous_format)
    return buffer, buffer[:len(chunk)]


def ensemble_logits_from_probs(probs: Tensor) -> Tensor:
    """``log(clamp(probs, PROB_EPS))`` in float64, of the shape of ``probs``.

    Note: these are the true logits up to a per-sample constant, which
    softmax ignores even after dividing by a temperature, so temperature
    scaling on them is exact.
    """
    return probs.double().clamp_min(PROB_EPS).log()


def softmax_summary(logits: Logits,
                    labels: Tensor,
                    temperature: Optional[Union[float, Tensor]] = None,
                    threshold: Optional[float] = None) -> Dict[str, Tensor]:
    """Per-sample terms of ``softmax(logits)``, in one pass.

    Args:
        logits (Tensor | Sequence[np.ndarray]): Logits ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.
        temperature (float | Tensor, optional): Also return the terms of
            ``softmax(logits / temperature)``, one for all or one per
            sample ``(N, )``. Defaults to None.
        threshold (float, optional): Also return the sums of squares and
            the probabilities above it. Defaults to None.

    Returns:
        dict[str, Tensor]: float64 ``(N, )`` ``max_logit`` (``m``),
        ``label_gap`` (``z_y - m``) and ``log_norm`` (``log sum_k exp(z_k -
        m)``, so ``-log p_y = log_norm - label_gap`` and ``max_k p_k =
        exp(-log_norm)``) and bool ``correct`` (argmax right); with
        ``temperature``, ``scaled_log_norm`` (``log sum_k exp((z_k - m) /
        T)``); with ``threshold``, float64 ``square_sum`` (``sum_k
        p_k^2``), int64 ``kept_rows`` and ``kept_classes`` (int16 if ``K <
        2^15``, else int64), the ``(n, k)`` of the ``p_nk > threshold``
        (ascending in ``n * K + k``), float64 ``kept_probs``, those
        ``p_nk``, and bool ``kept_hits``, ``k = y_n``.
    """
    num_classes = _num_classes(logits)
    keys = ['max_logit', 'label_gap', 'log_norm', 'correct']
    if temperature is not None:
        keys.append('scaled_log_norm')
        # multiplied by 1 / T: faster than divided, equal to 1 ulp
        inverse = _LOG2_E / torch.as_tensor(temperature, dtype=torch.float64)
        inverse = inverse.expand(_num_rows(logits))
    if threshold is not None:
        keys += ['square_sum', 'kept_rows', 'kept_classes', 'kept_probs',
                 'kept_hits']
        # int16: a quarter of the memory, and numpy's radix sort in TACE
        class_type = np.int16 if num_classes < 2**15 else np.int64
    out = {key: [] for key in keys}
    first, scratch = 0, None
    for gap, (chunk_labels, *inv) in _row_chunks(
            logits, torch.float64, False, labels,
            *([] if temperature is None else [inverse])):
        max_logit, prediction = gap.max(dim=1)
        gap.sub_(max_logit[:, None])
        out['max_logit'].append(max_logit)
        out['label_gap'].append(gap.gather(1, chunk_labels[:, None])[:, 0])
        out['correct'].append(prediction == chunk_labels)
        if scratch is None:
            scratch = torch.empty_like(gap)
        scratch = scratch[:len(gap)]
        if inv:
            torch.mul(gap, inv[0][:, None], out=scratch).exp2_()
            out['scaled_log_norm'].append(scratch.sum(dim=1).log())
        exp = gap.mul_(_LOG2_E).exp2_()
        total = exp.sum(dim=1)
        out['log_norm'].append(total.log())
        if threshold is not None:
            out['square_sum'].append(
                torch.mul(exp, exp, out=scratch).sum(dim=1) / total.square())
            total_np = total.numpy()
            kept = np.flatnonzero(exp.numpy() > threshold * total_np[:, None])
            rows, classes = np.divmod(kept, num_classes)
            out['kept_probs'].append(
                torch.from_numpy(exp.numpy().reshape(-1)[kept] /
                                 total_np[rows]))
            out['kept_rows'].append(torch.from_numpy(rows + first))
            out['kept_classes'].append(
                torch.from_numpy(classes.astype(class_type)))
            out['kept_hits'].append(torch.from_numpy(
                classes == chunk_labels.numpy()[rows]))
        first += len(exp)
    empty = dict(kept_rows=torch.long, kept_classes=torch.long,
                 kept_hits=torch.bool, correct=torch.bool)
    return {
        key: (parts[0] if len(parts) == 1 else torch.cat(parts)) if parts else
        torch.empty(0, dtype=empty.get(key, torch.float64))
        for key, parts in out.items()
    }


def temperature_scaled_nll(logits: Logits, labels: Tensor,
                           temperature: float) -> float:
    """Mean NLL of ``softmax(logits / temperature)`` (``1.0``: plain NLL)."""
    summary = softmax_summary(logits, labels, temperature)
    return float((summary['scaled_log_norm'] -
                  summary['label_gap'] / temperature).mean())


def scaled_log_norm(logits: Logits, betas: Tensor) -> Tensor:
    """``log sum_k exp(beta_n (z_nk - max_j z_nj))`` of each row.

    Note: computed in float32 (one pass, as the temperature fit), returned
    in float64: within float32 rounding of the float64 value.

    Args:
        logits (Tensor | Sequence[np.ndarray]): Logits ``(N, K)``.
        betas (Tensor): ``1 / T`` of each row ``(N, )``.

    Returns:
        Tensor: float64 ``(N, )``.
    """
    sums = torch.empty(_num_rows(logits))
    start, buffer = 0, None
    for gap, (beta, ) in _row_chunks(logits, torch.float32, True,
                                     (betas * _LOG2_E).float()):
        buffer, exp = _scratch(buffer, gap)
        torch.sum(torch.mul(gap, beta[:, None], out=exp).exp2_(), dim=1,
                  out=sums[start:start + len(gap)])
        start += len(gap)
    return sums.log_().double()


def confidence_bins(confidence: Tensor, correct: Tensor,
                    num_bins: int = 15) -> Dict[str, Tensor]:
    """Accuracy and mean confidence per equal-width confidence bin.

    ``[0, 1]`` is cut into ``B`` right-closed bins ``(b / B, (b + 1) / B]``,
    the first one also holding 0 (Guo et al., 2017).

    Args:
        confidence (Tensor): Confidences ``(N, )``.
        correct (Tensor): Bool ``(N, )``, True for a right prediction.
        num_bins (int): Number of bins ``B``. Defaults to 15.

    Returns:
        dict[str, Tensor]: float64 ``counts``, ``accuracy`` and
        ``confidence`` ``(B, )`` (NaN for an empty bin), and the 0-dim
        ``ece = sum_b (n_b / N) |acc_b - conf_b|``.
    """
    confidence = confidence.double()
    inner_edges = torch.arange(1, num_bins, dtype=torch.float64) / num_bins
    # right=False: index i such that edges[i-1] < conf <= edges[i]
    index = torch.bucketize(confidence, inner_edges, right=False)
    counts = torch.bincount(index, minlength=num_bins).double()
    sum_conf = torch.bincount(index, weights=confidence, minlength=num_bins)
    sum_correct = torch.bincount(
        index, weights=correct.double(), minlength=num_bins)
    return dict(
        counts=counts,
        accuracy=sum_correct / counts,
        confidence=sum_conf / counts,
        ece=(sum_correct - sum_conf).abs().sum() / confidence.numel())


def reliability_bins(probs: Tensor, labels: Tensor,
                     num_bins: int = 15) -> Dict[str, Tensor]:
    """:func:`confidence_bins` of the top-1 probability of ``probs``."""
    confidence, prediction = probs.max(dim=1)
    return confidence_bins(confidence, prediction == labels, num_bins)


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
    probs = probs.double()
    label_probs = probs.gather(1, labels[:, None])[:, 0]
    return float((torch.linalg.vecdot(probs, probs) - 2 * label_probs +
                  1).mean())


def adaptive_confidence_error(confidence: Tensor, correct: Tensor,
                              num_bins: int = 15) -> float:
    """Adaptive ECE of confidences ``(N, )`` and bool ``correct``.

    The confidences are sorted (stable) and split by ``torch.tensor_split``
    into ``B`` bins of (almost) equal counts;
    ``AECE = sum_b (n_b / N) |acc_b - conf_b|``, empty bins skipped; ``nan``
    for ``N = 0``.
    """
    num = confidence.numel()
    if num == 0:
        return math.nan
    confidence = confidence.detach().cpu().double().numpy()
    order = np.argsort(confidence, kind='stable')
    bins = equal_mass_bin(np.arange(num), num, num_bins)
    gap = (np.bincount(bins, correct.cpu().numpy()[order], num_bins) -
           np.bincount(bins, confidence[order], num_bins))
    return float(np.abs(gap).sum() / num)


def adaptive_calibration_error(probs: Tensor,
                               labels: Tensor,
                               num_bins: int = 15) -> float:
    """Adaptive ECE: the ECE over equal-mass bins of the top-1 confidence.

    Args:
        probs (Tensor): Probabilities ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.
        num_bins (int): Number of bins ``B``. Defaults to 15.

    Returns:
        float: :func:`adaptive_confidence_error` of ``max_k p_nk``, in
        [0, 1], ``nan`` for ``N = 0``.
    """
    confidence, prediction = probs.detach().cpu().double().max(dim=1)
    return adaptive_confidence_error(confidence, prediction == labels.cpu(),
                                     num_bins)


def calibration_scores(logits: Logits,
                       labels: Tensor,
                       num_bins: int = 15,
                       tace_threshold: float = 1e-3,
                       summary: Optional[Dict[str, Tensor]] = None
                       ) -> Dict[str, float]:
    """NLL, ECE, AECE, both TACEs and Brier of ``softmax(logits)``.

    The functions of this module and of :mod:`.tace` on the probabilities,
    from the terms of one float64 pass over the logits.

    Args:
        logits (Tensor | Sequence[np.ndarray]): Logits ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.
        num_bins (int): Number of bins of ECE, AECE and TACE. Defaults to
            15.
        tace_threshold (float): TACE ignores the probabilities ``<=`` it.
            Defaults to 1e-3.
        summary (dict, optional): :func:`softmax_summary` of the logits with
            ``tace_threshold``, if already computed. Defaults to None.

    Returns:
        dict[str, float]: ``nll``, ``ece``, ``aece``, ``tace``,
        ``tace_mixmo`` and ``brier``.
    """
    if summary is None:
        summary = softmax_summary(logits, labels, threshold=tace_threshold)
    log_norm, correct = summary['log_norm'], summary['correct']
    confidence = (-log_norm).exp()
    nll = log_norm - summary['label_gap']
    tace, tace_mixmo = tace_pair(summary['kept_classes'].numpy(),
                                 summary['kept_probs'].numpy(),
                                 summary['kept_hits'].numpy(), len(labels),
                                 _num_classes(logits), num_bins)
    return dict(
        nll=float(nll.mean()),
        ece=float(confidence_bins(confidence, correct, num_bins)['ece']),
        aece=adaptive_confidence_error(confidence, correct, num_bins),
        tace=tace,
        tace_mixmo=tace_mixmo,
        brier=float((summary['square_sum'] - 2 * (-nll).exp() + 1).mean()))


def _nll_derivatives(logits: Logits, labels: Tensor, betas: Tensor,
                     parts: Tensor) -> Tensor:
    """The first five derivatives in ``beta`` of the mean NLL of
    ``softmax(beta * logits)`` over the rows of each part, at its beta.

    Args:
        logits (Tensor | Sequence[np.ndarray]): Logits ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.
        betas (Tensor): float64 ``(P, )``, the beta of each part.
        parts (Tensor): The part of each row, int64 ``(N, )``.

    Returns:
        Tensor: float64 ``(P, 5)``: per part, the means of ``E[z] - z_y``
        and of the cumulants 2 to 5 of ``z`` under those probabilities
        (sums over the classes in float32, the rest in float64).
    """
    # per row: sum_k e_k z_k^j (j = 0..5, e = exp(beta z)) and z_y; the
    # chunks only fill them (few operations per chunk)
    sums = torch.empty(7, len(labels))
    start, exps = 0, None
    for gap, (chunk_labels, beta) in _row_chunks(
            logits, torch.float32, True, labels,
            (betas * _LOG2_E).float()[parts]):
        exps, exp = _scratch(exps, gap)
        rows = slice(start, start + len(gap))
        torch.mul(gap, beta[:, None], out=exp).exp2_()
        torch.sum(exp, dim=1, out=sums[0, rows])
        for power in range(1, 6):
            torch.sum(exp.mul_(gap), dim=1, out=sums[power, rows])
        torch.gather(gap, 1, chunk_labels[:, None], out=sums[6, rows, None])
        start += len(gap)
    sums = sums.double()
    m1, m2, m3, m4, m5 = sums[1:6] / sums[0]
    # cumulants from the raw moments
    per_row = torch.stack([
        m1 - sums[6], m2 - m1**2, m3 - 3 * m2 * m1 + 2 * m1**3,
        m4 - 4 * m3 * m1 - 3 * m2**2 + 12 * m2 * m1**2 - 6 * m1**4,
        m5 - 5 * m4 * m1 - 10 * m3 * m2 + 20 * m3 * m1**2 +
        30 * m2**2 * m1 - 60 * m2 * m1**3 + 24 * m1**5
    ], 1)
    return torch.zeros(betas.numel(), 5, dtype=torch.float64).index_add_(
        0, parts, per_row) / torch.bincount(
            parts, minlength=betas.numel())[:, None]


class _HalleySearch:
    """Halley's method on a convex function of ``beta`` in
    ``exp(-LOG_TEMPERATURE_RANGE)``, kept in the bracket of its minimum;
    near it, the root of the slope's Taylor polynomial of degree 4."""

    def __init__(self, beta: float) -> None:
        self.ends = tuple(math.exp(-t) for t in LOG_TEMPERATURE_RANGE[::-1])
        self.low, self.high = self.ends
        self.beta = min(max(beta, self.low), self.high)
        self.untried = set(self.ends) - {self.beta}
        self.done = False

    def update(self, *derivatives: float) -> None:
        """The next ``beta`` (or the last one, ``done``) from the first
        five derivatives at ``beta``."""
        beta = self.beta
        slope, curvature, third = derivatives[:3]
        if slope > 0:  # the function grows with beta: the minimum is below
            self.high = beta
        elif slope < 0:
            self.low = beta
        # at the minimum, or at an end of the range beyond which it lies
        if slope == 0 or self.low >= self.high:
            self.done = True
            return
        if self.high - self.low <= _LAST_BRACKET * self.high:
            self.beta, self.done = (self.low + self.high) / 2, True
            return
        denominator = 2 * curvature**2 - slope * third
        new = beta - 2 * slope * curvature / denominator \
            if denominator > 0 and curvature > 0 else math.nan
        if abs(new - beta) <= 2 * _LAST_STEP * beta:
            new = beta + _taylor_root(derivatives, new - beta)
        if self.low < new < self.high:
            self.done = abs(new - beta) <= _LAST_STEP * beta
        else:  # out of the bracket: try an end of the range, else bisect
            end = self.high if slope < 0 else self.low
            new = end if end in self.untried else (self.low + self.high) / 2
            self.untried.discard(end)
        self.beta = new


def _taylor_root(derivatives: Sequence[float], step: float) -> float:
    """The root near ``step`` of ``sum_j d_j step^j / j!`` (``d``: the
    slope and its derivatives), by Newton's method from ``step``."""
    for _ in range(3):
        value = sum(d * step**j / math.factorial(j)
                    for j, d in enumerate(derivatives))
        slope = sum(d * step**(j - 1) / math.factorial(j - 1)
                    for j, d in enumerate(derivatives) if j)
        if slope > 0:
            step -= value / slope
    return step


def _fit_betas(logits: Logits, labels: Tensor, parts: Tensor,
               num_parts: int) -> List[float]:
    """The ``beta = 1 / T`` of :func:`fit_temperature` on each part."""
    starts = [1.0] * num_parts
    if _num_rows(logits) >= _SUBSAMPLE * _MIN_ROWS * num_parts:
        starts = _fit_betas(_every(logits, _SUBSAMPLE), labels[::_SUBSAMPLE],
                            parts[::_SUBSAMPLE], num_parts)
    searches = [_HalleySearch(beta) for beta in starts]
    for _ in range(100):
        if all(search.done for search in searches):
            break
        betas = torch.tensor([search.beta for search in searches],
                             dtype=torch.float64)
        derivatives = _nll_derivatives(logits, labels, betas, parts)
        for search, row in zip(searches, derivatives.tolist()):
            if not search.done:
                search.update(*row)
    return [search.beta for search in searches]


def fit_temperature(logits: Logits, labels: Tensor) -> float:
    """Temperature ``T`` minimising the NLL of ``softmax(logits / T)``.

    Note: Halley's method on ``beta = 1 / T``, in which the NLL is convex
    (its derivatives are the cumulants of the logits under the scaled
    probabilities), kept within ``exp(LOG_TEMPERATURE_RANGE)``; an optimum
    outside gives the nearest end, and a flat NLL (constant logits) ``T =
    1``. It starts from the fit on every 16th row, and its derivatives are
    computed in float32 (one pass each); close to the optimum, a step
    solves the slope's Taylor polynomial of degree 4, so that one pass over
    all rows usually suffices. The fitted ``log T`` is that of
    the float64 optimum to within ``LOG_TEMPERATURE_TOL``.

    Args:
        logits (Tensor | Sequence[np.ndarray]): Logits ``(N, K)``.
        labels (Tensor): Class indices ``(N, )``.

    Returns:
        float: The temperature.

    Raises:
        ValueError: Without samples, or for NaN or inf logits.
    """
    finite = (bool(torch.isfinite(logits).all())
              if isinstance(logits, Tensor) else
              all(np.isfinite(block).all() for block in logits))
    num = _num_rows(logits)
    if not num or not finite:
        raise ValueError('fit_temperature needs at least one sample and '
                         'finite logits')
    parts = torch.zeros(num, dtype=torch.long)
    return 1.0 / _fit_betas(logits, labels, parts, 1)[0]


def two_fold_temperatures(logits: Logits,
                          labels: Tensor,
                          seed: int = 0) -> Tuple[List[float], Tensor]:
    """The temperatures of two-fold temperature scaling.

    The halves ``perm[:N // 2]`` and ``perm[N // 2:]`` of a seeded
    ``randperm(N)`` each fit a temperature (:func:`fit_temperature`).

    Args:
        logits (Tensor | Sequence[np.ndarray]): Logits ``(N, K)``,
            ``N >= 4``.
        labels (Tensor): Class indices ``(N, )``.
        seed (int): Seed of the split. Defaults to 0.

    Returns:
        tuple[list[float], Tensor]: The temperature of each half and the
        half of each sample, int64 ``(N, )``.
    """
    num = _num_rows(logits)
    perm = torch.randperm(num, generator=torch.Generator().manual_seed(seed))
    halves = torch.zeros(num, dtype=torch.long)
    halves[perm[num // 2:]] = 1
    return [1.0 / beta for beta in _fit_betas(logits, labels, halves, 2)
            ], halves


def two_fold_scores(summary: Dict[str, Tensor], temperatures: List[float],
                    halves: Tensor, num_bins: int = 15) -> Dict[str, float]:
    """Calibrated NLL and ECE of :func:`two_fold_temperatures`.

    Args:
        summary (dict): :func:`softmax_summary` of the logits, each sample
            scaled by the temperature of the other half.
        temperatures (list[float]): The temperature of each half.
        halves (Tensor): The half of each sample ``(N, )``.
        num_bins (int): Number of ECE bins. Defaults to 15.

    Returns:
        dict[str, float]: ``nll_c``, ``ece_c`` (means over the halves) and
        ``temperature`` (mean of the two).
    """
    scaled_log_norm = summary['scaled_log_norm']
    other = torch.tensor(temperatures, dtype=torch.float64)[1 - halves]
    nll = scaled_log_norm - summary['label_gap'] / other
    confidence = (-scaled_log_norm).exp()
    nlls, eces = [], []
    for half in (1, 0):
        rows = halves == half
        nlls.append(float(nll[rows].mean()))
        eces.append(
            float(
                confidence_bins(confidence[rows], summary['correct'][rows],
                                num_bins)['ece']))
    return dict(
        nll_c=sum(nlls) / 2,
        ece_c=sum(eces) / 2,
        temperature=sum(temperatures) / 2)


def two_fold_temperature_scaling(logits: Logits,
                                 labels: Tensor,
                                 num_bins: int = 15,
                                 seed: int = 0) -> Dict[str, float]:
    """Calibrated NLL and ECE by two-fold temperature scaling.

    The MixMo paper's protocol (after Ashukha et al., 2020): each half of
    :func:`two_fold_temperatures` scales and scores the other half with its
    temperature; the two scores are averaged (:func:`two_fold_scores`).

    Args:
        logits (Tensor | Sequence[np.ndarray]): Logits ``(N, K)``,
            ``N >= 4``.
        labels (Tensor): Class indices ``(N, )``.
        num_bins (int): Number of ECE bins. Defaults to 15.
        seed (int): Seed of the split. Defaults to 0.

    Returns:
        dict[str, float]: ``nll_c``, ``ece_c`` and ``temperature`` (mean of
        the two fitted temperatures).
    """
    temperatures, halves = two_fold_temperatures(logits, labels, seed)
    other = torch.tensor(temperatures, dtype=torch.float64)[1 - halves]
    summary = softmax_summary(logits, labels, other)
    return two_fold_scores(summary, temperatures, halves, num_bins)
