"""Synthetic predictions and the measurements of
``tools/analysis_tools/benchmark_evaluation.py``.

Peak memory is the peak resident set size (``VmHWM``, Linux) above the
resident size at the start, reset after the warm-up: it sees torch's and
numpy's allocations, unlike tracemalloc. Run one measurement per process.
"""
import copy
import ctypes
import pickle
import time
from typing import Dict, Iterator, List, Sequence

import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmpretrain.structures import DataSample

from ..models.utils.ensemble_average import ensemble_average
from .functional import (mixmo_thresholded_adaptive_calibration_error,
                         thresholded_adaptive_calibration_error)

#: The functions of the TACE rows.
TACE_FUNCTIONS = dict(
    tace=thresholded_adaptive_calibration_error,
    tace_mixmo=mixmo_thresholded_adaptive_calibration_error)
#: Logit scale of the part shared by the members, of each member's own part,
#: and the margin of the true class: on 1,000 classes, a top-1 of 77 % and
#: 3.7 % of the probabilities above 1e-3 (measured on 50,000 samples),
#: roughly those of an ImageNet model.
SHARED_SCALE, MEMBER_SCALE, MARGIN = 3.0, 1.0, 12.5


def synthetic_batches(num: int,
                      num_classes: int,
                      num_members: int,
                      seed: int,
                      batch_size: int = 64) -> Iterator[List[DataSample]]:
    """Predicted samples as a multi-head model averaging probabilities
    writes them (``MultiHeadClsHead.predict``, the ImageNet configs).

    Args:
        num (int): Number of samples N.
        num_classes (int): Number of classes K.
        num_members (int): Number of members M.
        seed (int): Seed of the logits and labels.
        batch_size (int): Samples per batch. Defaults to 64.

    Yields:
        list[DataSample]: A batch; each sample has ``gt_label``, float32
        ``pred_score`` (K, ) and ``member_logits`` (M, K) and float64
        ``ensemble_logits`` (K, ), rows (views) of batch tensors.
    """
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, num, batch_size):
        size = min(batch_size, num - start)
        labels = torch.randint(num_classes, (size, ), generator=gen)
        logits = SHARED_SCALE * torch.randn(
            size, 1, num_classes, generator=gen) + MEMBER_SCALE * torch.randn(
                size, num_members, num_classes, generator=gen)
        logits[torch.arange(size), :, labels] += MARGIN
        scores, ensemble = ensemble_average(logits.double(), 'probs')
        samples = []
        for label, score, heads, mean in zip(labels, scores.float(), logits,
                                             ensemble):
            sample = DataSample().set_gt_label(int(label))
            sample.set_pred_score(score).set_pred_label(score.argmax())
            sample.set_field(heads, 'member_logits')
            sample.set_field(mean, 'ensemble_logits')
            samples.append(sample)
        yield samples


def _status_kib(key: str) -> int:
    """A ``kB`` field of /proc/self/status (``VmRSS``, ``VmHWM``)."""
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f
                    if line.startswith(key + ':'))


def reset_peak_rss() -> int:
    """Return the freed heap to the system and reset the peak RSS to the
    current RSS; returns it in KiB."""
    ctypes.CDLL('libc.so.6').malloc_trim(0)
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # VmHWM := VmRSS
    return _status_kib('VmRSS')


def peak_extra_mib(base_kib: int) -> float:
    """The peak RSS since :func:`reset_peak_rss` above ``base_kib``, MiB."""
    return (_status_kib('VmHWM') - base_kib) / 1024


def measure_evaluator(metrics: Sequence[dict],
                      num: int,
                      num_classes: int,
                      num_members: int,
                      seed: int,
                      batch_size: int = 64) -> Dict[str, float]:
    """Time and peak memory of an evaluator on synthetic predictions.

    The batches are made one by one, outside the timed and measured parts
    (the memory of one batch is counted: about 1.3 MiB at K = 1,000); the
    evaluator's ``process`` and ``evaluate`` are timed.

    Args:
        metrics (Sequence[dict]): Configs of the metrics.
        num, num_classes, num_members, seed, batch_size: As in
            :func:`synthetic_batches`.

    Returns:
        dict: ``process`` and ``compute`` (s), ``cpu`` (the CPU seconds of
        both, less sensitive to a shared machine), ``peak_mib`` (peak extra
        RSS), ``gathered_mib`` (the pickled size of the results that a rank
        sends for ``num`` samples, estimated on the first batch), ``each``
        (per metric, in order: its name and the seconds of its share of
        ``compute``) and ``metrics`` (the values).
    """
    evaluator = Evaluator(copy.deepcopy(list(metrics)))
    first = next(synthetic_batches(batch_size, num_classes, num_members,
                                   seed + 1, batch_size))
    evaluator.process(first)  # lazy initialisations
    gathered = sum(
        len(pickle.dumps(metric.results))
        for metric in evaluator.metrics) / len(first) * num / 2**20
    evaluator.evaluate(len(first))
    del first
    base = reset_peak_rss()
    process = cpu = 0.0
    for batch in synthetic_batches(num, num_classes, num_members, seed,
                                   batch_size):
        start, start_cpu = time.perf_counter(), time.process_time()
        evaluator.process(batch)
        process += time.perf_counter() - start
        cpu += time.process_time() - start_cpu
    del batch
    each = [_timed_evaluate(metric) for metric in evaluator.metrics]
    start, start_cpu = time.perf_counter(), time.process_time()
    values = evaluator.evaluate(num)
    compute = time.perf_counter() - start
    return dict(process=process, compute=compute,
                cpu=cpu + time.process_time() - start_cpu,
                peak_mib=peak_extra_mib(base), gathered_mib=gathered,
                each=[(type(metric).__name__, seconds[0])
                      for metric, seconds in zip(evaluator.metrics, each)],
                metrics=values)


def _timed_evaluate(metric: BaseMetric) -> List[float]:
    """Time the calls of ``metric.evaluate`` (this instance's): returns the
    list their seconds are appended to."""
    seconds: List[float] = []
    evaluate = metric.evaluate

    def timed_evaluate(size: int) -> dict:
        start = time.perf_counter()
        out = evaluate(size)
        seconds.append(time.perf_counter() - start)
        return out

    metric.evaluate = timed_evaluate
    return seconds


def measure_tace(name: str, num: int, num_classes: int, num_members: int,
                 seed: int) -> Dict[str, float]:
    """Time and peak memory of a TACE function on the float64 ``pred_score``
    ``(N, K)`` of :func:`synthetic_batches` (made before the measurement).

    Returns:
        dict: ``compute`` and ``cpu`` (s), ``peak_mib``, ``above`` (share of
        the probabilities above 1e-3, %) and ``metrics`` (the value).
    """
    probs = torch.empty(num, num_classes, dtype=torch.float64)
    labels = torch.empty(num, dtype=torch.long)
    row = 0
    for batch in synthetic_batches(num, num_classes, num_members, seed):
        for sample in batch:
            probs[row] = sample.pred_score
            labels[row] = sample.gt_label
            row += 1
    function = TACE_FUNCTIONS[name]
    function(probs[:100], labels[:100])  # lazy initialisations
    base = reset_peak_rss()
    start, start_cpu = time.perf_counter(), time.process_time()
    value = function(probs, labels)
    compute = time.perf_counter() - start
    return dict(compute=compute, cpu=time.process_time() - start_cpu,
                peak_mib=peak_extra_mib(base),
                above=100 * float((probs > 1e-3).double().mean()),
                metrics={name: value})
