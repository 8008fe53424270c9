"""CalibrationMetric: NLL, ECE, AECE, TACEs, Brier; NLL and ECE calibrated."""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from mmpretrain.registry import METRICS
from torch import Tensor

from ..functional import (calibration_scores, ensemble_logits_from_probs,
                          scaled_log_norm, softmax_summary, two_fold_scores,
                          two_fold_temperatures)
from .batch_results import (BatchRowsMetric, SampleRow, blocks, check_finite,
                            concat, segments)
from .sample_checks import (batch_labels, mark_non_finite,
                            mark_non_finite_rows, missing_prediction,
                            read_field, stack_field)


@METRICS.register_module()
class CalibrationMetric(BatchRowsMetric):
    """NLL, ECE, AECE, TACEs and Brier score; NLL and ECE also calibrated.

    Scores one logit vector ``(K, )`` per sample: its ``ensemble_logits`` if
    present (set by the MixMo head, the ensembles and the single-network
    classifier), else ``log(pred_score)``. Keys: ``nll`` (nats), ``ece``,
    ``aece`` (ECE over equal-mass bins), ``tace`` (Nixon et al., 2019) and
    ``tace_mixmo`` (the MixMo authors' variant), both over per-class
    equal-mass bins of the probabilities above ``tace_threshold``,
    fractions, and ``brier`` (in [0, 2]); see
    :mod:`mmmixmo.evaluation.functional.calibration`.

    An uncalibrated model also gets, from N = 4 samples on, ``nll_c``,
    ``ece_c`` and ``temperature`` of two-fold temperature scaling. The
    samples of a calibrated model carry its ``temperature`` (a float; their
    ``ensemble_logits`` are already divided by it): it is reported as
    ``temperature``, the other keys are those of the calibrated model, and
    ``nll_c`` and ``ece_c`` are left out. The samples must all carry the
    same ``temperature`` or none. NaN or inf in a field read raises a
    ValueError.

    Note: per batch, ``process`` keeps the float32 logits (what the
    temperature fit needs) and computes the per-sample softmax terms in
    float64; ``compute_metrics`` reads the batches' arrays without
    stacking the logits (see
    :mod:`~mmmixmo.evaluation.functional.calibration`).

    Args:
        num_bins (int): Number of bins of ECE, AECE and TACE. Defaults to 15.
        split_seed (int): Seed of the two-fold split. Defaults to 0.
        tace_threshold (float): TACE ignores the probabilities ``<=`` it,
            in [0, 1). Defaults to 1e-3.
        collect_device (str): As in ``BaseMetric``. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the keys. Defaults to 'calibration'.
        collect_dir (str, optional): As in ``BaseMetric``. Defaults to None.
    """
    default_prefix: Optional[str] = 'calibration'

    def __init__(self,
                 num_bins: int = 15,
                 split_seed: int = 0,
                 tace_threshold: float = 1e-3,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if isinstance(num_bins, bool) or not isinstance(num_bins, int) \
                or num_bins < 1:
            raise ValueError('CalibrationMetric: num_bins must be an int '
                             f'>= 1, got {num_bins!r}')
        if isinstance(split_seed, bool) or not isinstance(split_seed, int):
            raise ValueError('CalibrationMetric: split_seed must be an int, '
                             f'got {split_seed!r}')
        if isinstance(tace_threshold, bool) or not isinstance(
                tace_threshold, (int, float)) or not 0 <= tace_threshold < 1:
            raise ValueError('CalibrationMetric: tace_threshold must be a '
                             f'number in [0, 1), got {tace_threshold!r}')
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.num_bins = num_bins
        self.split_seed = split_seed
        self.tace_threshold = float(tace_threshold)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the batch's float32 logits minus each row's maximum, their
        softmax terms and their probabilities above ``tace_threshold``
        (:meth:`store_rows`)."""
        labels = batch_labels(data_samples, 'CalibrationMetric')
        marks = [{} for _ in data_samples]
        index, logits = read_field(data_samples, 'ensemble_logits', marks)
        if len(index) < len(data_samples):
            rest = sorted(set(range(len(data_samples))) - set(index))
            if any('pred_score' not in data_samples[i] for i in rest):
                raise missing_prediction('CalibrationMetric')
            scores = stack_field([data_samples[i] for i in rest],
                                 'pred_score')
            mark_non_finite_rows(marks, 'pred_score', scores, rest)
            from_probs = ensemble_logits_from_probs(scores)
            if logits is None:
                logits = from_probs
            elif logits.size(1) != from_probs.size(1):
                raise _widths_error({logits.size(1), from_probs.size(1)})
            else:
                logits = torch.cat([logits.double(), from_probs])[
                    torch.tensor(index + rest).argsort()]
        logits = logits.float()
        temperature = np.full(len(data_samples), np.nan)
        for i, data_sample in enumerate(data_samples):
            if 'temperature' in data_sample:
                temperature[i] = float(data_sample['temperature'])
                mark_non_finite(marks[i], data_sample, ('temperature', ))
        summary = softmax_summary(logits, labels,
                                  threshold=self.tace_threshold)
        centred = self._slabs.take('logits', logits.shape, np.float32)
        torch.sub(logits, summary['max_logit'].float()[:, None],
                  out=torch.from_numpy(centred))
        arrays = dict(
            logits=centred,
            labels=labels.numpy(), temperature=temperature,
            kept_ends=np.searchsorted(summary['kept_rows'].numpy(),
                                      np.arange(len(labels) + 1)))
        arrays.update((key, summary[key].numpy()) for key in _TERMS + _KEPT)
        self.store_rows(arrays, marks)

    @staticmethod
    def stack(results: List[SampleRow]) -> Tuple[Tensor, Tensor]:
        """The float32 logits ``(N, K)`` (minus their maximum) and labels
        ``(N, )`` of results."""
        segs = segments(results)
        return (torch.from_numpy(concat(segs, 'logits')),
                torch.from_numpy(concat(segs, 'labels')))

    def compute_metrics(self,
                        results: List[SampleRow]) -> Dict[str, float]:
        """Compute the scores on the results gathered from all ranks."""
        check_finite(results, 'CalibrationMetric')
        if not results:
            return {}
        segs = segments(results)
        widths = {record.arrays['logits'].shape[1] for record, _, _ in segs}
        if len(widths) > 1:
            raise _widths_error(widths)
        temperature = _one_temperature(concat(segs, 'temperature'))
        labels = torch.from_numpy(concat(segs, 'labels'))
        summary = {key: torch.from_numpy(concat(segs, key)) for key in _TERMS}
        summary.update((key, torch.from_numpy(concat(segs, key, 'kept_ends')))
                       for key in _KEPT)
        logits = blocks(segs, 'logits')
        two_fold = temperature is None and len(results) >= 4
        if two_fold:  # fitted on the rows, then one pass scaled
            fitted, halves = two_fold_temperatures(logits, labels,
                                                   self.split_seed)
            summary['scaled_log_norm'] = scaled_log_norm(
                logits,
                1 / torch.tensor(fitted, dtype=torch.float64)[1 - halves])
        metrics = calibration_scores(logits, labels, self.num_bins,
                                     self.tace_threshold, summary)
        if two_fold:
            metrics.update(
                two_fold_scores(summary, fitted, halves, self.num_bins))
        elif temperature is not None:
            metrics['temperature'] = temperature
            print_log(
                f'CalibrationMetric: the model is calibrated (temperature '
                f'{temperature:g}): nll_c and ece_c, for uncalibrated '
                'models, are not reported.',
                logger='current',
                level=logging.INFO)
        else:
            print_log(
                f'CalibrationMetric: {len(results)} samples, fewer than 2 per '
                'half: nll_c, ece_c and temperature are not reported.',
                logger='current',
                level=logging.WARNING)
        return metrics


#: The per-sample terms of :func:`softmax_summary` that the metric keeps,
#: and its per-probability ones.
_TERMS = ('label_gap', 'log_norm', 'correct', 'square_sum')
_KEPT = ('kept_classes', 'kept_probs', 'kept_hits')


def _widths_error(widths: set) -> ValueError:
    """The error of samples of different numbers of classes."""
    return ValueError(
        'CalibrationMetric: the samples\' `ensemble_logits` / '
        f'`pred_score` have different numbers of classes {sorted(widths)}')


def _one_temperature(temperatures: np.ndarray) -> Optional[float]:
    """The samples' one ``temperature`` (NaN: none), None if none has it."""
    given = ~np.isnan(temperatures)
    if not given.any():
        return None
    values = temperatures[given]
    if given.all() and values.min() == values.max():
        return float(values[0])
    found = set(np.unique(values).tolist())
    if not given.all():
        found.add(None)
    raise ValueError(
        'CalibrationMetric: the samples carry different '
        f'`temperature`s {sorted(found, key=str)}; a calibrated model '
        'gives its one temperature to every sample (None: no '
        'temperature)')
