"""CorruptionMetric: metrics averaged over (corruption, severity) groups."""
import logging
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from .batch_results import check_finite
from .wrapper_metric import WrapperMetric


@METRICS.register_module()
class CorruptionMetric(WrapperMetric):
    """Run metrics on each (corruption, severity) group and average them.

    Every sample must carry the metainfo ``corruption`` and ``severity``
    (e.g. from :class:`~mmmixmo.datasets.CIFARC`, packed by ``PackInputs``).
    Each wrapped metric's ``compute_metrics`` runs on each group alone; a
    key ``<prefix>/<metric prefix>/<key>`` is the unweighted mean over the
    groups (Hendrycks & Dietterich, 2019), element-wise for non-scalars.
    Optional keys ``<prefix>/<corruption>/...`` and
    ``<prefix>/severity<s>/...`` average one corruption or severity.

    Note: for keys that are not sample means (ECE, temperature-scaled keys,
    ratio-errors) this differs from the pooled value. A key that only some
    groups report is left out, with a warning. Wrapped metrics must store
    one result per sample; their own ``collect_device`` is unused.

    Args:
        metrics (dict | BaseMetric | Sequence[dict | BaseMetric]): The
            wrapped metrics, as configs of mmpretrain's ``METRICS`` or built.
        per_corruption (bool): Also report the mean over the severities of
            each corruption. Defaults to False.
        per_severity (bool): Also report the mean over the corruptions of
            each severity. Defaults to False.
        collect_device (str): As in ``BaseMetric``. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the keys. Defaults to 'corruption'.
        collect_dir (str, optional): As in ``BaseMetric``. Defaults to None.
    """
    default_prefix: Optional[str] = 'corruption'

    def __init__(self,
                 metrics: Union[dict, BaseMetric, Sequence[Union[dict,
                                                                 BaseMetric]]],
                 per_corruption: bool = False,
                 per_severity: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if isinstance(metrics, (dict, BaseMetric)):
            metrics = [metrics]
        if not isinstance(metrics, Sequence) or len(metrics) == 0:
            raise ValueError('CorruptionMetric: metrics must be a non-empty '
                             f'list of metric configs, got {metrics!r}')
        super().__init__(
            metrics, [f'metrics[{i}]' for i in range(len(metrics))],
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.per_corruption = per_corruption
        self.per_severity = per_severity

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the group and each wrapped metric's result of each sample."""
        for data_sample in data_samples:
            missing = [
                key for key in ('corruption', 'severity')
                if key not in data_sample
            ]
            if missing:
                raise KeyError(
                    f'CorruptionMetric: a predicted sample has no {missing}; '
                    'list them in the test pipeline: '
                    "dict(type='PackInputs', meta_keys=(..., 'corruption', "
                    "'severity'))")
        per_metric = self.process_wrapped(data_batch, data_samples)
        for i, data_sample in enumerate(data_samples):
            self.results.append(
                dict(
                    corruption=str(data_sample['corruption']),
                    severity=int(data_sample['severity']),
                    results=[results[i] for results in per_metric]))

    @staticmethod
    def _mean(per_group: List[Dict[str, Any]], what: str) -> Dict[str, Any]:
        """Key-wise mean over groups of the keys that every group reports."""
        keys = list(dict.fromkeys(key for m in per_group for key in m))
        partial = [k for k in keys if any(k not in m for m in per_group)]
        if partial:
            print_log(
                f'CorruptionMetric: {partial} are reported by only some of '
                f'the {len(per_group)} groups ({what}); left out of their '
                'mean.',
                logger='current',
                level=logging.WARNING)
        means: Dict[str, Any] = {}
        for key in keys:
            if key not in partial:
                mean = np.stack([
                    np.asarray(m[key], dtype=np.float64) for m in per_group
                ]).mean(0)
                means[key] = float(mean) if mean.ndim == 0 else mean.tolist()
        return means

    def compute_metrics(self, results: List[dict]) -> Dict[str, Any]:
        """Compute the wrapped metrics per group and average them."""
        if not results:
            return {}
        # on all the samples: a group's own check would count its part only
        for i, metric in enumerate(self.metrics):
            check_finite([res['results'][i] for res in results],
                         type(metric).__name__)
        groups: Dict[tuple, List[list]] = {}
        for res in results:
            groups.setdefault((res['corruption'], res['severity']),
                              []).append(res['results'])
        per_group = {
            key: self.compute_wrapped([list(r) for r in zip(*items)])
            for key, items in groups.items()
        }
        corruptions = list(dict.fromkeys(c for c, _ in groups))
        severities = sorted({s for _, s in groups})
        print_log(
            f'CorruptionMetric: {len(results)} samples in {len(groups)} '
            f'groups ({len(corruptions)} corruptions, severities '
            f'{severities}); reporting means over groups.',
            logger='current')
        parts = [('', 'all groups', list(per_group.values()))]
        if self.per_corruption:
            parts += [(f'{name}/', name,
                       [m for (c, _), m in per_group.items() if c == name])
                      for name in corruptions]
        if self.per_severity:
            parts += [(f'severity{sev}/', f'severity {sev}',
                       [m for (_, s), m in per_group.items() if s == sev])
                      for sev in severities]
        return {
            key_prefix + key: value
            for key_prefix, what, part in parts
            for key, value in self._mean(part, what).items()
        }
