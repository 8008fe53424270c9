"""ConformalMetric: coverage and size of conformal prediction sets."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

from ..functional import set_coverage, set_sizes, size_stratified_coverage
from .sample_checks import single_label


@METRICS.register_module()
class ConformalMetric(BaseMetric):
    """Coverage and size of the prediction sets of a conformal model.

    Every sample must carry ``pred_set``, a bool ``(K, )`` (written by a
    conformally calibrated model). Keys: ``coverage`` (share of samples
    whose ``gt_label`` is in their set), ``set_size`` (mean number of
    classes), ``empty`` (share of empty sets), ``coverage_size_<b>`` (the
    coverage of the samples whose set size is in bucket ``b`` of
    :data:`~mmmixmo.evaluation.functional.SET_SIZE_BUCKETS`: ``0``, ``1``,
    ``2-3``, ``4-10``, ``11-100``, ``101-1000``, ``>1000``; only for the
    buckets with samples) and ``ssc`` (size-stratified coverage, the
    smallest of them; 0 when a set is empty), fractions; see
    :mod:`mmmixmo.evaluation.functional.conformal_coverage`.

    Args:
        collect_device (str): As in ``BaseMetric``. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the keys. Defaults to 'conformal'.
        collect_dir (str, optional): As in ``BaseMetric``. Defaults to None.
    """
    default_prefix: Optional[str] = 'conformal'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the set ``(K, )`` and the label ``(1, )`` per sample."""
        for data_sample in data_samples:
            if 'pred_set' not in data_sample:
                raise KeyError(
                    'ConformalMetric: a predicted sample has no `pred_set`: '
                    'the model has no conformal calibration; `python '
                    'tools/calibrate.py CONFIG CHECKPOINT --conformal aps '
                    '--alpha 0.1` writes a calibrated config and checkpoint')
            pred_set = torch.as_tensor(data_sample['pred_set']).reshape(-1)
            if pred_set.dtype != torch.bool:
                raise ValueError('ConformalMetric: `pred_set` must be a bool '
                                 f'tensor (K, ), got {pred_set.dtype}')
            gt_label = single_label(data_sample, 'ConformalMetric')
            if not 0 <= int(gt_label) < pred_set.numel():
                raise ValueError(
                    f'ConformalMetric: `gt_label` {int(gt_label)} is not a '
                    f'class of the `pred_set` of {pred_set.numel()} classes')
            self.results.append(
                dict(pred_set=pred_set.detach().cpu(), gt_label=gt_label))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the keys on the results gathered from all ranks."""
        sets = torch.stack([res['pred_set'] for res in results])
        labels = torch.cat([res['gt_label'] for res in results])
        sizes = set_sizes(sets).double()
        strata = size_stratified_coverage(sets, labels)
        metrics = dict(
            coverage=set_coverage(sets, labels),
            set_size=float(sizes.mean()),
            empty=float((sizes == 0).double().mean()))
        metrics.update(
            {f'coverage_size_{name}': value
             for name, value in strata.items()})
        metrics['ssc'] = min(strata.values())
        return metrics
