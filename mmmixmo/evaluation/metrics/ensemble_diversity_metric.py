"""EnsembleDiversityMetric: per-head accuracy and diversity of the heads."""
import logging
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.logging import print_log
from mmpretrain.registry import METRICS
from torch import Tensor

from ..functional import pairwise_disagreement, ratio_errors, top1_accuracy
from .batch_results import (BatchRowsMetric, SampleRow, check_finite, concat,
                            segments)
from .sample_checks import (batch_labels, mark_non_finite, missing_prediction,
                            read_field)


@METRICS.register_module()
class EnsembleDiversityMetric(BatchRowsMetric):
    """Accuracy of each head, ensemble gain and diversity between the heads.

    Reads ``member_logits`` ``(M, K)``, ``pred_score`` and ``gt_label``. Keys,
    for ``M >= 2``: ``head{i}_top1`` (percent), ``ensemble_gain`` (top-1 of
    ``pred_score`` minus the mean head top-1, in points), ``ratio_errors``
    (absent if undefined) and ``disagreement`` (a fraction); see
    :mod:`mmmixmo.evaluation.functional.diversity`. A model without
    ``member_logits`` or with ``M = 1`` gets no key (not NaN). NaN or inf in
    a field read raises a ValueError.

    Args:
        collect_device (str): As in ``BaseMetric``. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the keys. Defaults to 'diversity'.
        collect_dir (str, optional): As in ``BaseMetric``. Defaults to None.
    """
    default_prefix: Optional[str] = 'diversity'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the label, the ensemble prediction and the head predictions
        of the samples, int64 ``rows`` ``(B, 2 + M)`` (``(B, 2)`` without
        ``member_logits``; :meth:`store_rows`)."""
        labels = batch_labels(data_samples, 'EnsembleDiversityMetric')
        marks = [{} for _ in data_samples]
        preds = torch.empty(len(data_samples), dtype=torch.long)
        index, scores = read_field(data_samples, 'pred_score', marks)
        if index:
            preds[index] = scores.flatten(1).max(dim=1).indices
        for i, data_sample in enumerate(data_samples):
            if 'pred_score' in data_sample:
                continue
            if 'pred_label' not in data_sample:
                raise missing_prediction('EnsembleDiversityMetric')
            pred_label = torch.as_tensor(data_sample['pred_label'])
            preds[i] = int(pred_label.reshape(-1)[0].long())
            mark_non_finite(marks[i], data_sample, ('pred_label', ))
        rows = torch.stack([labels, preds], 1)
        index, logits = read_field(data_samples, 'member_logits', marks)
        if 0 < len(index) < len(data_samples):
            raise self._partial(len(index), len(data_samples))
        if index:
            rows = torch.cat(
                [rows, logits.max(dim=-1).indices.reshape(len(index), -1)], 1)
        self.store_rows(dict(rows=rows.numpy()), marks)

    @staticmethod
    def _partial(num: int, total: int) -> ValueError:
        """The error of ``member_logits`` on ``num`` of ``total`` samples."""
        return ValueError(
            f'EnsembleDiversityMetric: `member_logits` is on {num} of '
            f'{total} samples; every sample must carry it')

    @staticmethod
    def stack(results: List[SampleRow]) -> Dict[str, Tensor]:
        """The int64 ``head_preds`` ``(N, M)``, ``pred_label`` and
        ``gt_label`` ``(N, )`` of results that all have head predictions."""
        values = torch.from_numpy(concat(segments(results), 'rows'))
        return dict(
            head_preds=values[:, 2:].contiguous(),
            pred_label=values[:, 1].contiguous(),
            gt_label=values[:, 0].contiguous())

    def compute_metrics(self, results: List[SampleRow]) -> Dict[str, float]:
        """Compute the keys on the results gathered from all ranks."""
        check_finite(results, 'EnsembleDiversityMetric')
        segs = segments(results)
        with_heads = sum(stop - start for record, start, stop in segs
                         if record.arrays['rows'].shape[1] > 2)
        if 0 < with_heads < len(results):
            raise self._partial(with_heads, len(results))
        if not with_heads or segs[0][0].arrays['rows'].shape[1] < 4:
            print_log(
                'EnsembleDiversityMetric: no `member_logits` or a single '
                'head; no diversity keys are reported.',
                logger='current',
                level=logging.INFO)
            return {}
        stacked = self.stack(results)
        head_preds, labels = stacked['head_preds'], stacked['gt_label']
        pred_labels = stacked['pred_label']
        head_top1 = [top1_accuracy(pred, labels) for pred in head_preds.T]
        metrics = {f'head{i}_top1': acc for i, acc in enumerate(head_top1)}
        metrics['ensemble_gain'] = top1_accuracy(
            pred_labels, labels) - sum(head_top1) / len(head_top1)
        ratio = ratio_errors(head_preds, labels)
        if ratio is None:
            print_log(
                'EnsembleDiversityMetric: no two heads are wrong on a common '
                'sample; ratio_errors is undefined and not reported.',
                logger='current',
                level=logging.WARNING)
        else:
            metrics['ratio_errors'] = ratio
        metrics['disagreement'] = pairwise_disagreement(head_preds)
        return metrics
