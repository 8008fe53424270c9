"""CalibrationMetric: NLL, ECE, AECE, TACEs, Brier; NLL and ECE calibrated."""
import logging
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from ..functional import (adaptive_calibration_error, brier_score,
                          ensemble_logits_from_probs,
                          expected_calibration_error,
                          mixmo_thresholded_adaptive_calibration_error,
                          temperature_scaled_nll,
                          thresholded_adaptive_calibration_error,
                          two_fold_temperature_scaling)
from .sample_checks import check_finite, mark_non_finite, single_label


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
        """Store the logits ``(K, )``, the label ``(1, )`` and the model's
        ``temperature`` (if any) per sample."""
        for data_sample in data_samples:
            if 'ensemble_logits' in data_sample:
                field = 'ensemble_logits'
                logits = torch.as_tensor(data_sample[field]).double()
            elif 'pred_score' in data_sample:
                field = 'pred_score'
                logits = ensemble_logits_from_probs(
                    torch.as_tensor(data_sample[field]))
            else:
                raise KeyError('CalibrationMetric needs the `pred_score` of '
                               "a classifier run with mode='predict'")
            result = dict(
                logits=logits.detach().cpu(),
                gt_label=single_label(data_sample, 'CalibrationMetric'))
            if 'temperature' in data_sample:
                result['temperature'] = float(data_sample['temperature'])
            self.results.append(
                mark_non_finite(result, data_sample,
                                (field, 'temperature')))

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
        logits = torch.stack([res['logits'] for res in results])
        labels = torch.cat([res['gt_label'] for res in results])
        probs = F.softmax(logits, dim=1)
        metrics = dict(
            nll=temperature_scaled_nll(logits, labels, 1.0),
            ece=expected_calibration_error(probs, labels, self.num_bins),
            aece=adaptive_calibration_error(probs, labels, self.num_bins),
            tace=thresholded_adaptive_calibration_error(
                probs, labels, self.num_bins, self.tace_threshold),
            tace_mixmo=mixmo_thresholded_adaptive_calibration_error(
                probs, labels, self.num_bins, self.tace_threshold),
            brier=brier_score(probs, labels))
        temperature = temperatures.pop()
        if temperature is not None:
            metrics['temperature'] = temperature
            print_log(
                f'CalibrationMetric: the model is calibrated (temperature '
                f'{temperature:g}): nll_c and ece_c, for uncalibrated '
                'models, are not reported.',
                logger='current',
                level=logging.INFO)
        elif len(results) >= 4:
            metrics.update(
                two_fold_temperature_scaling(logits, labels, self.num_bins,
                                             self.split_seed))
        else:
            print_log(
                f'CalibrationMetric: {len(results)} samples, fewer than 2 per '
                'half: nll_c, ece_c and temperature are not reported.',
                logger='current',
                level=logging.WARNING)
        return metrics
