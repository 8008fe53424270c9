"""EnsembleDiversityMetric: per-head accuracy and diversity of the heads."""
import logging
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from ..functional import pairwise_disagreement, ratio_errors, top1_accuracy
from .sample_checks import check_finite, mark_non_finite, single_label


@METRICS.register_module()
class EnsembleDiversityMetric(BaseMetric):
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
        """Store the ensemble and head predictions and the label."""
        for data_sample in data_samples:
            if 'pred_score' in data_sample:
                field = 'pred_score'
                pred_label = torch.as_tensor(data_sample[field]).argmax()
            elif 'pred_label' in data_sample:
                field = 'pred_label'
                pred_label = torch.as_tensor(data_sample[field]).reshape(-1)[0]
            else:
                raise KeyError('EnsembleDiversityMetric needs the '
                               '`pred_score` of a classifier run with '
                               "mode='predict'")
            result = dict(
                pred_label=pred_label.long().reshape(1).cpu(),
                gt_label=single_label(data_sample, 'EnsembleDiversityMetric'))
            if 'member_logits' in data_sample:
                result['head_preds'] = torch.as_tensor(
                    data_sample['member_logits']).argmax(dim=1).long().cpu()
            self.results.append(
                mark_non_finite(result, data_sample, (field, 'member_logits')))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the keys on the results gathered from all ranks."""
        check_finite(results, 'EnsembleDiversityMetric')
        with_heads = sum('head_preds' in res for res in results)
        if 0 < with_heads < len(results):
            raise ValueError(
                f'EnsembleDiversityMetric: `member_logits` is on {with_heads} '
                f'of {len(results)} samples; every sample must carry it')
        if not with_heads or results[0]['head_preds'].numel() < 2:
            print_log(
                'EnsembleDiversityMetric: no `member_logits` or a single head; '
                'no diversity keys are reported.',
                logger='current',
                level=logging.INFO)
            return {}
        head_preds = torch.stack([res['head_preds'] for res in results])
        labels = torch.cat([res['gt_label'] for res in results])
        pred_labels = torch.cat([res['pred_label'] for res in results])
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
