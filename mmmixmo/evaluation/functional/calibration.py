"""Calibration scores: NLL, ECE, Brier and two-fold temperature scaling.

Conventions shared by every function of this module:

- ``probs`` are class probabilities of shape ``(N, K)`` (rows sum to 1),
  ``logits`` are unnormalised scores of shape ``(N, K)`` and ``labels`` are
  integer class indices of shape ``(N, )``.
- Everything is computed in float64 on the CPU; results are Python floats.
- Logarithms are natural, so NLL is in nats.
"""
import math
from typing import Dict, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

#: Smallest positive float32 (normal) number. ``pred_score`` is float32, so a
#: probability that underflowed to 0 is clamped here before taking its log.
PROB_EPS = torch.finfo(torch.float32).tiny

#: Search interval for ``log(T)`` in :func:`fit_temperature`, i.e.
#: ``T in [e^-3, e^3] ~ [0.050, 20.1]``.
LOG_TEMPERATURE_RANGE = (-3.0, 3.0)

_INV_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _check_scores_labels(scores: Tensor, labels: Tensor,
                         name: str) -> Tuple[Tensor, Tensor]:
    """Validate shapes and label range; return float64 scores, long labels.

    Args:
        scores (Tensor): Probabilities or logits of shape ``(N, K)``.
        labels (Tensor): Class indices of shape ``(N, )``.
        name (str): Name of ``scores`` used in error messages.

    Returns:
        tuple[Tensor, Tensor]: ``scores`` as float64 ``(N, K)`` and
        ``labels`` as int64 ``(N, )``, both on the CPU.
    """
    scores = torch.as_tensor(scores).detach().cpu().double()
    labels = torch.as_tensor(labels).detach().cpu().long().reshape(-1)
    if scores.dim() != 2:
        raise ValueError(
            f'`{name}` must have shape (N, K), got {tuple(scores.shape)}')
    if scores.size(0) != labels.numel():
        raise ValueError(f'`{name}` has {scores.size(0)} rows but there are '
                         f'{labels.numel()} labels')
    if scores.size(0) == 0:
        raise ValueError(f'`{name}` is empty: nothing to evaluate')
    num_classes = scores.size(1)
    if labels.min() < 0 or labels.max() >= num_classes:
        raise ValueError(f'labels must be in [0, {num_classes - 1}] for '
                         f'{num_classes} classes, got values in '
                         f'[{int(labels.min())}, {int(labels.max())}]')
    return scores, labels


def ensemble_logits_from_probs(probs: Tensor) -> Tensor:
    """Recover logits from probabilities: ``log(clamp(p, PROB_EPS))``.

    For a classifier that only exposes ``pred_score = softmax(z)``, ``log p``
    equals ``z - logsumexp(z)``: the true logits up to a per-sample constant,
    which softmax (with or without a temperature) ignores, so temperature
    scaling on ``log p`` is exact. Probabilities that underflowed to 0 are
    clamped to :data:`PROB_EPS` (``log`` about -87.3).

    Args:
        probs (Tensor): Probabilities of shape ``(N, K)``.

    Returns:
        Tensor: float64 log-probabilities of shape ``(N, K)``.
    """
    return torch.as_tensor(probs).double().clamp_min(PROB_EPS).log()


def negative_log_likelihood(probs: Tensor, labels: Tensor) -> float:
    """Mean negative log-likelihood ``mean_n -log p_n[y_n]`` (nats).

    Args:
        probs (Tensor): Probabilities of shape ``(N, K)``.
        labels (Tensor): Class indices of shape ``(N, )``.

    Returns:
        float: The NLL, ``>= 0``. A true-class probability of 0 is clamped
        to :data:`PROB_EPS`, so the result is always finite.
    """
    probs, labels = _check_scores_labels(probs, labels, 'probs')
    p_true = probs.gather(1, labels[:, None]).squeeze(1)
    return float(-p_true.clamp_min(PROB_EPS).log().mean())


def temperature_scaled_nll(logits: Tensor, labels: Tensor,
                           temperature: float) -> float:
    """NLL of ``softmax(logits / T)``, computed with ``log_softmax``.

    Args:
        logits (Tensor): Logits of shape ``(N, K)``.
        labels (Tensor): Class indices of shape ``(N, )``.
        temperature (float): ``T > 0``.

    Returns:
        float: ``mean_n -log softmax(z_n / T)[y_n]`` in nats.
    """
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature}')
    logits, labels = _check_scores_labels(logits, labels, 'logits')
    return _scaled_nll(logits, labels, temperature)


def _scaled_nll(logits: Tensor, labels: Tensor, temperature: float) -> float:
    """Unchecked :func:`temperature_scaled_nll` (float64 inputs)."""
    log_probs = F.log_softmax(logits / temperature, dim=1)
    return float(-log_probs.gather(1, labels[:, None]).mean())


def expected_calibration_error(probs: Tensor,
                               labels: Tensor,
                               num_bins: int = 15) -> float:
    """Expected calibration error with equal-width confidence bins.

    The confidence of a sample is its maximum probability, its prediction the
    argmax. ``[0, 1]`` is cut into ``num_bins`` bins of width ``1 / B``; a
    bin is ``(b / B, (b + 1) / B]`` (right-closed, the first one also holds
    0), the convention of Guo et al. (2017). Then

    ``ECE = sum_b (n_b / N) |acc_b - conf_b|``

    with ``acc_b`` the accuracy and ``conf_b`` the mean confidence of the
    ``n_b`` samples in bin ``b``; empty bins contribute nothing.

    Args:
        probs (Tensor): Probabilities of shape ``(N, K)``.
        labels (Tensor): Class indices of shape ``(N, )``.
        num_bins (int): Number of bins ``B``. Defaults to 15.

    Returns:
        float: The ECE as a fraction in ``[0, 1]`` (not a percentage).
    """
    if isinstance(num_bins, bool) or not isinstance(num_bins,
                                                    int) or num_bins < 1:
        raise ValueError(f'num_bins must be an int >= 1, got {num_bins!r}')
    probs, labels = _check_scores_labels(probs, labels, 'probs')
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    # Interior edges 1/B .. (B-1)/B; ``right=False`` gives the index i with
    # edges[i-1] < conf <= edges[i], i.e. right-closed bins.
    inner_edges = torch.arange(1, num_bins, dtype=torch.float64) / num_bins
    bin_index = torch.bucketize(confidence, inner_edges, right=False)
    sum_conf = torch.bincount(bin_index, weights=confidence,
                              minlength=num_bins)
    sum_correct = torch.bincount(bin_index, weights=correct,
                                 minlength=num_bins)
    # (n_b / N) |acc_b - conf_b| == |sum_correct_b - sum_conf_b| / N
    return float((sum_correct - sum_conf).abs().sum() / probs.size(0))


def brier_score(probs: Tensor, labels: Tensor) -> float:
    """Multi-class Brier score ``mean_n sum_k (p_nk - onehot(y_n)_k)^2``.

    This is the original multi-class definition (Brier, 1950): summed over
    the K classes, *not* divided by K, averaged over samples. Its range is
    ``[0, 2]`` (0 for a confident right prediction, 2 for a confident wrong
    one).

    Args:
        probs (Tensor): Probabilities of shape ``(N, K)``.
        labels (Tensor): Class indices of shape ``(N, )``.

    Returns:
        float: The Brier score.
    """
    probs, labels = _check_scores_labels(probs, labels, 'probs')
    one_hot = F.one_hot(labels, probs.size(1)).double()
    return float((probs - one_hot).pow(2).sum(dim=1).mean())


def fit_temperature(
        logits: Tensor,
        labels: Tensor,
        log_temperature_range: Tuple[float, float] = LOG_TEMPERATURE_RANGE,
        tol: float = 1e-6) -> float:
    """Fit one temperature ``T`` minimising the NLL of ``softmax(logits/T)``.

    The search is a golden-section search on ``log T`` over
    ``log_temperature_range``: deterministic, derivative-free and with no
    random start. It finds the global minimum because the NLL is convex in
    ``1 / T`` (a log-sum-exp of linear functions minus a linear function),
    hence unimodal in the monotone reparametrisation ``log T``. If the
    optimum lies outside the range, the nearest end is returned.

    Args:
        logits (Tensor): Logits of shape ``(N, K)``.
        labels (Tensor): Class indices of shape ``(N, )``.
        log_temperature_range (tuple[float, float]): Bounds of ``log T``.
            Defaults to ``(-3, 3)``.
        tol (float): Final width of the bracket on ``log T``.
            Defaults to 1e-6.

    Returns:
        float: The fitted temperature ``T > 0`` (``T > 1`` softens
        over-confident predictions).
    """
    logits, labels = _check_scores_labels(logits, labels, 'logits')
    low, high = (float(v) for v in log_temperature_range)
    if not low < high:
        raise ValueError('log_temperature_range must be (low, high) with '
                         f'low < high, got {log_temperature_range}')

    def objective(log_t: float) -> float:
        return _scaled_nll(logits, labels, math.exp(log_t))

    x1 = high - _INV_GOLDEN * (high - low)
    x2 = low + _INV_GOLDEN * (high - low)
    f1, f2 = objective(x1), objective(x2)
    while high - low > tol:
        if f1 <= f2:  # the minimum is in [low, x2]
            high, x2, f2 = x2, x1, f1
            x1 = high - _INV_GOLDEN * (high - low)
            f1 = objective(x1)
        else:  # the minimum is in [x1, high]
            low, x1, f1 = x1, x2, f2
            x2 = low + _INV_GOLDEN * (high - low)
            f2 = objective(x2)
    return math.exp((low + high) / 2)


def two_fold_temperature_scaling(
    logits: Tensor,
    labels: Tensor,
    num_bins: int = 15,
    seed: int = 0,
    log_temperature_range: Tuple[float, float] = LOG_TEMPERATURE_RANGE
) -> Dict[str, float]:
    """Calibrated NLL and ECE by two-fold temperature scaling.

    The protocol of the MixMo paper (after Ashukha et al., ICLR 2020): the
    evaluated set is split in two halves; a temperature fitted on one half
    (:func:`fit_temperature`) scales the logits of the other half, which are
    then scored; the halves are swapped and the two scores averaged (plain
    mean of the two halves, which differ by at most one sample).

    Split: ``perm = torch.randperm(N, generator=torch.Generator()
    .manual_seed(seed))``; half A is ``perm[:N // 2]``, half B is
    ``perm[N // 2:]``. It depends only on ``N``, ``seed`` and the order of the
    samples (the dataset order under mmengine's evaluation loop).

    Args:
        logits (Tensor): Ensemble logits of shape ``(N, K)``, ``N >= 4``.
        labels (Tensor): Class indices of shape ``(N, )``.
        num_bins (int): Number of ECE bins. Defaults to 15.
        seed (int): Seed of the split permutation. Defaults to 0.
        log_temperature_range (tuple[float, float]): Search interval of
            ``log T``. Defaults to ``(-3, 3)``.

    Returns:
        dict[str, float]: ``nll_c`` (nats), ``ece_c`` (fraction in
        ``[0, 1]``), ``temperature`` (mean of the two fitted temperatures)
        and ``temperature_fold0`` / ``temperature_fold1`` (fitted on half A
        / half B).
    """
    logits, labels = _check_scores_labels(logits, labels, 'logits')
    num = logits.size(0)
    if num < 4:
        raise ValueError('two-fold temperature scaling needs at least 2 '
                         f'samples per half (N >= 4), got N = {num}')
    generator = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(num, generator=generator)
    halves = (perm[:num // 2], perm[num // 2:])
    nlls, eces, temperatures = [], [], []
    for fit_idx, score_idx in (halves, halves[::-1]):
        temperature = fit_temperature(logits[fit_idx], labels[fit_idx],
                                      log_temperature_range)
        scaled = logits[score_idx] / temperature
        nlls.append(_scaled_nll(scaled, labels[score_idx], 1.0))
        eces.append(
            expected_calibration_error(
                F.softmax(scaled, dim=1), labels[score_idx], num_bins))
        temperatures.append(temperature)
    return dict(
        nll_c=sum(nlls) / 2,
        ece_c=sum(eces) / 2,
        temperature=sum(temperatures) / 2,
        temperature_fold0=temperatures[0],
        temperature_fold1=temperatures[1])
