"""CalibrationMetric: NLL, ECE, AECE, TACEs, Brier; NLL and ECE calibrated."""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS
from torch import Tensor

from ..functional import (calibration_scores, ensemble_logits_from_probs,
                          softmax_summary, two_fold_scores,
                          two_fold_temperatures)
from .sample_checks import (batch_labels, check_finite, mark_non_finite,
                            mark_non_finite_rows, missing_prediction,
                            read_field, stack_field)


@METRICS.register_module()
class CalibrationMetric(BaseMetric):
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

    Note: a sample's result is its logits as a float32 numpy row and its
    label (what the ranks gather); the scores read the rows in chunks,
    never stacked, and are computed in float64 (see
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
        """Store per sample the float32 logits ``(K, )`` (a numpy row), the
        label and the model's ``temperature`` (if any)."""
        results = [
            dict(gt_label=label)
            for label in batch_labels(data_samples, 'CalibrationMetric')
        ]
        index, values = read_field(data_samples, 'ensemble_logits', results)
        logits = values.float() if index else ()
        for i, row in zip(index, logits.numpy() if index else ()):
            results[i]['logits'] = row
        if len(index) < len(data_samples):
            rest = [i for i, r in enumerate(results) if 'logits' not in r]
            if any('pred_score' not in data_samples[i] for i in rest):
                raise missing_prediction('CalibrationMetric')
            scores = stack_field([data_samples[i] for i in rest],
                                 'pred_score')
            mark_non_finite_rows(results, 'pred_score', scores, rest)
            logits = ensemble_logits_from_probs(scores).float().numpy()
            for i, row in zip(rest, logits):
                results[i]['logits'] = row
        for result, data_sample in zip(results, data_samples):
            if 'temperature' in data_sample:
                result['temperature'] = float(data_sample['temperature'])
                mark_non_finite(result, data_sample, ('temperature', ))
        self.results.extend(results)

    @staticmethod
    def stack(results: List[dict]) -> Tuple[Tensor, Tensor]:
        """The float32 logits ``(N, K)`` and labels ``(N, )`` of results."""
        logits = np.concatenate([res['logits'] for res in results])
        return (torch.from_numpy(logits.reshape(len(results), -1)),
                torch.tensor([res['gt_label'] for res in results]))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the scores on the results gathered from all ranks."""
        check_finite(results, 'CalibrationMetric')
        temperatures = {res.get('temperature') for res in results}
        if len(temperatures) > 1:
            raise ValueError(
                'CalibrationMetric: the samples carry different '
                f'`temperature`s {sorted(temperatures, key=str)}; a '
                'calibrated model gives its one temperature to every sample '
                '(None: no temperature)')
        temperature = temperatures.pop()
        # read in chunks from the per-sample rows: no (N, K) copy
        logits = [res['logits'] for res in results]
        widths = {len(row) for row in logits}
        if len(widths) > 1:
            raise ValueError(
                'CalibrationMetric: the samples\' `ensemble_logits` / '
                f'`pred_score` have different numbers of classes {widths}')
        labels = torch.tensor([res['gt_label'] for res in results])
        two_fold = temperature is None and len(results) >= 4
        scaled = None
        if two_fold:  # fitted first: one pass then scores both ways
            fitted, halves = two_fold_temperatures(logits, labels,
                                                   self.split_seed)
            scaled = torch.tensor(fitted, dtype=torch.float64)[1 - halves]
        summary = softmax_summary(logits, labels, scaled, self.tace_threshold)
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
