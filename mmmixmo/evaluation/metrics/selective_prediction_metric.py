"""SelectivePredictionMetric: misclassification detection, selective risk."""
import logging
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from mmpretrain.registry import METRICS
from torch import Tensor

from ..functional import (accuracy_at_coverage, aurc, auroc,
                          average_precision)
from .batch_results import (BatchRowsMetric, SampleRow, check_finite, concat,
                            segments)
from .sample_checks import read_scores


def coverage_key(coverage: float) -> str:
    """The key of the accuracy at ``coverage``: 0.8 -> ``'acc@80'``."""
    return f'acc@{round(100 * coverage, 6):g}'


@METRICS.register_module()
class SelectivePredictionMetric(BatchRowsMetric):
    """How well the confidence separates right from wrong predictions.

    Per sample, the confidence is the maximum of ``pred_score`` and the
    prediction is right if its argmax is ``gt_label``. Keys (fractions unless
    stated): ``auroc`` and ``aupr_correct`` (score: the confidence, positive:
    right), ``aupr_wrong`` (score: 1 - confidence, positive: wrong),
    ``aurc`` (area under the risk-coverage curve, lower is better) and
    ``acc@<c>`` per coverage (accuracy in % of the most confident share
    ``c``); see :mod:`mmmixmo.evaluation.functional.detection` and
    :mod:`~mmmixmo.evaluation.functional.selective`. The first three are
    left out (with a warning) when every prediction is right or every one
    is wrong. NaN or inf in ``pred_score`` raises a ValueError.

    Args:
        coverages (Sequence[float]): Shares of kept samples, in (0, 1].
            Defaults to (0.8, 0.9, 0.95).
        collect_device (str): As in ``BaseMetric``. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the keys. Defaults to 'selective'.
        collect_dir (str, optional): As in ``BaseMetric``. Defaults to None.
    """
    default_prefix: Optional[str] = 'selective'

    def __init__(self,
                 coverages: Sequence[float] = (0.8, 0.9, 0.95),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if isinstance(coverages, (int, float)):
            coverages = (coverages, )
        if not isinstance(coverages, Sequence) or not all(
                isinstance(c, (int, float)) and not isinstance(c, bool)
                and 0 < c <= 1 for c in coverages):
            raise ValueError('SelectivePredictionMetric: coverages must be '
                             f'numbers in (0, 1], got {coverages!r}')
        keys = [coverage_key(c) for c in coverages]
        if len(set(keys)) != len(keys):
            raise ValueError('SelectivePredictionMetric: coverages has '
                             f'duplicates ({keys})')
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.coverages = tuple(float(c) for c in coverages)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the confidence (float64) and the correctness (bool) of the
        samples (:meth:`store_rows`)."""
        if not data_samples:
            return
        labels, marks, scores = read_scores(data_samples,
                                            'SelectivePredictionMetric')
        confidence, prediction = scores.flatten(1).max(dim=1)
        self.store_rows(dict(confidence=confidence.double().numpy(),
                        correct=(prediction == labels).numpy()), marks)

    @staticmethod
    def stack(results: List[SampleRow]) -> Tuple[Tensor, Tensor]:
        """The float64 ``confidence`` and bool ``correct`` ``(N, )`` of
        results."""
        segs = segments(results)
        return (torch.from_numpy(concat(segs, 'confidence')),
                torch.from_numpy(concat(segs, 'correct')))

    def compute_metrics(self, results: List[SampleRow]) -> Dict[str, float]:
        """Compute the keys on the results gathered from all ranks."""
        check_finite(results, 'SelectivePredictionMetric')
        if not results:
            return {}
        confidence, correct = self.stack(results)
        # sorted once (stable, as the functions sort): their sorts are then
        # of sorted data, several times faster
        order = torch.argsort(confidence, descending=True, stable=True)
        confidence, correct = confidence[order], correct[order]
        metrics = {}
        if 0 < int(correct.sum()) < len(results):
            metrics.update(
                auroc=auroc(confidence, correct),
                aupr_correct=average_precision(confidence, correct),
                aupr_wrong=average_precision(1 - confidence, ~correct))
        else:
            print_log(
                f'SelectivePredictionMetric: {int(correct.sum())} of '
                f'{len(results)} predictions are right; auroc, aupr_correct '
                'and aupr_wrong need both right and wrong ones and are not '
                'reported.',
                logger='current',
                level=logging.WARNING)
        metrics['aurc'] = aurc(confidence, correct)
        for coverage in self.coverages:
            metrics[coverage_key(coverage)] = accuracy_at_coverage(
                confidence, correct, coverage)
        return metrics
