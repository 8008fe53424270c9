"""ConformalMetric: coverage and size of conformal prediction sets."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

from ..functional import coverage_by_size
from .sample_checks import batch_labels, stack_field


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
        """Store per sample the size of its set (int) and whether it holds
        the label (bool)."""
        if not data_samples:
            return
        if any('pred_set' not in s for s in data_samples):
            raise KeyError(
                'ConformalMetric: a predicted sample has no `pred_set`: '
                'the model has no conformal calibration; `python '
                'tools/calibrate.py CONFIG CHECKPOINT --conformal aps '
                '--alpha 0.1` writes a calibrated config and checkpoint')
        sets = stack_field(data_samples, 'pred_set').flatten(1)
        if sets.dtype != torch.bool:
            raise ValueError('ConformalMetric: `pred_set` must be a bool '
                             f'tensor (K, ), got {sets.dtype}')
        labels = batch_labels(data_samples, 'ConformalMetric')
        bad = labels[(labels < 0) | (labels >= sets.size(1))].tolist()
        if bad:
            raise ValueError(
                f'ConformalMetric: `gt_label` {bad[0]} is not a class of the '
                f'`pred_set` of {sets.size(1)} classes')
        covered = sets.gather(1, labels[:, None])[:, 0]
        self.results.extend(
            dict(size=size, covered=hit)
            for size, hit in zip(sets.sum(dim=1).tolist(), covered.tolist()))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the keys on the results gathered from all ranks."""
        sizes = torch.tensor([res['size'] for res in results])
        covered = torch.tensor([res['covered'] for res in results],
                               dtype=torch.bool)
        strata = coverage_by_size(sizes, covered)
        metrics = dict(
            coverage=float(covered.double().mean()),
            set_size=float(sizes.double().mean()),
            empty=float((sizes == 0).double().mean()))
        metrics.update(
            {f'coverage_size_{name}': value
             for name, value in strata.items()})
        metrics['ssc'] = min(strata.values())
        return metrics
