"""Any metrics averaged over the (corruption, severity) groups of CIFAR-C."""
import logging
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

GroupKey = Tuple[str, int]


@METRICS.register_module()
class CorruptionMetric(BaseMetric):
    """Run metrics per (corruption, severity) group and average the groups.

    Wraps ordinary evaluator configs, e.g. the ones of the clean test set,
    and reports them on a corrupted test set such as
    :class:`~mmmixmo.datasets.CIFARC`::

        test_evaluator = dict(
            type='CorruptionMetric',
            metrics=[
                dict(type='Accuracy', topk=(1, 5)),
                dict(type='CalibrationMetric', num_bins=15),
                dict(type='EnsembleDiversityMetric'),
            ])

    Every predicted sample must carry the metainfo fields ``corruption``
    (str) and ``severity`` (int), which the dataset provides and
    ``PackInputs(meta_keys=(..., 'corruption', 'severity'))`` copies to the
    :class:`~mmpretrain.structures.DataSample`.

    **How the average is taken.** Samples are grouped by
    ``(corruption, severity)``; each wrapped metric's ``compute_metrics``
    runs on each group separately, exactly as it would on a test set made of
    that group alone; then every key is the unweighted **mean over the
    groups** (for CIFAR-C with 15 corruptions x 5 severities: over 75
    groups), the usual "corruption accuracy" protocol (Hendrycks &
    Dietterich, 2019; their mCE further divides each corruption's error by
    AlexNet's, which is not computed here). Since every CIFAR-C group has
    the same 10000 images, the group mean equals the pooled value for the
    metrics that are means over samples (accuracy, NLL, Brier, per-head
    accuracy, ensemble gain, disagreement) but **not** for ECE, the
    temperature-scaled scores (each group fits its own temperature) or
    ratio-errors, which are not sample means: the pooled ECE of all 750k
    predictions differs from the mean of the 75 per-group ECEs reported
    here. With unequal groups (e.g. a dataset ``indices`` subset) even the
    sample means differ from the pooled ones.

    **Keys**, with the default prefix ``corruption`` and a wrapped metric of
    prefix ``<p>`` returning ``<k>``:

    - ``corruption/<p>/<k>``: mean over all groups, e.g.
      ``corruption/accuracy/top1``, ``corruption/calibration/nll``,
      ``corruption/diversity/disagreement``.
    - with ``per_corruption=True``: ``corruption/<name>/<p>/<k>``, the mean
      over the severities of corruption ``<name>``, e.g.
      ``corruption/fog/accuracy/top1``.
    - with ``per_severity=True``: ``corruption/severity<s>/<p>/<k>``, the
      mean over the corruptions at severity ``<s>``.

    A key that a wrapped metric reports for some groups only (e.g.
    ``calibration/nll_c`` on groups of fewer than 4 samples, or
    ``diversity/ratio_errors`` when no two heads fail together) is left out
    of that mean and a warning names it, so that every reported value is a
    mean over the same groups. Non-scalar values (e.g. per-class precision
    with ``average=None``) are averaged element-wise and returned as lists.

    **DDP.** :meth:`process` runs every wrapped metric's ``process`` on the
    batch and stores, per sample, its group and the per-sample results of
    each wrapped metric; :class:`~mmengine.evaluator.BaseMetric` gathers
    them from all ranks (dropping the sampler's padding) and the main
    process groups them, so the numbers do not depend on the world size.
    Wrapped metrics must therefore store exactly one result per sample
    (true of mmpretrain's ``Accuracy``/``SingleLabelMetric`` and of
    mmmixmo's metrics); their own ``collect_device`` is unused. All results
    are held until the end, as for a test set of that size (CIFAR-C: 750k
    samples; a ``CalibrationMetric`` keeps ``K`` float64 logits per sample).

    Args:
        metrics (dict | BaseMetric | Sequence[dict | BaseMetric]): The
            wrapped metrics: configs built from mmpretrain's ``METRICS``
            registry, or built metrics.
        per_corruption (bool): Also report the mean over severities of each
            corruption. Defaults to False.
        per_severity (bool): Also report the mean over corruptions of each
            severity. Defaults to False.
        collect_device (str): Device used to gather results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the keys. Defaults to None, i.e.
            ``'corruption'``.
        collect_dir (str, optional): Directory for gathering on the CPU.
            Defaults to None.

    Raises:
        ValueError: ``metrics`` is empty or two wrapped metrics report the
            same key.
        TypeError: A wrapped metric is neither a config nor a BaseMetric.
        KeyError: A predicted sample lacks ``corruption`` or ``severity``.
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
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        if isinstance(metrics, (dict, BaseMetric)):
            metrics = [metrics]
        if not isinstance(metrics, Sequence) or len(metrics) == 0:
            raise ValueError(
                '`metrics` of the CorruptionMetric evaluator config must be '
                'a non-empty list of metric configs, e.g. '
                "metrics=[dict(type='Accuracy', topk=(1, 5))], got "
                f'{metrics!r}')
        self.metrics: List[BaseMetric] = []
        for i, metric in enumerate(metrics):
            if isinstance(metric, dict):
                metric = METRICS.build(metric)
            if not isinstance(metric, BaseMetric):
                raise TypeError(
                    f'`metrics[{i}]` of the CorruptionMetric evaluator config '
                    'must be a metric config dict or a BaseMetric, got '
                    f'{type(metric).__name__}')
            self.metrics.append(metric)
        self.per_corruption = per_corruption
        self.per_severity = per_severity

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Optional[dict]: Meta info of the dataset (shared with the wrapped
        metrics)."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        """Set the dataset meta info on this and every wrapped metric."""
        self._dataset_meta = dataset_meta
        for metric in self.metrics:
            metric.dataset_meta = dataset_meta

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the group and the wrapped metrics' results of each sample.

        Args:
            data_batch (Any): A batch from the dataloader, passed on to the
                wrapped metrics.
            data_samples (Sequence[dict]): Predicted samples as dicts
                (``DataSample.to_dict()``) with the metainfo ``corruption``
                and ``severity``.
        """
        groups = []
        for data_sample in data_samples:
            missing = [
                key for key in ('corruption', 'severity')
                if key not in data_sample
            ]
            if missing:
                raise KeyError(
                    f'CorruptionMetric: a predicted sample has no {missing}. '
                    'Use a corruption dataset (e.g. CIFARC) and list the '
                    'fields in the packing transform of the test pipeline: '
                    "dict(type='PackInputs', meta_keys=(..., 'corruption', "
                    "'severity'))")
            groups.append(
                (str(data_sample['corruption']), int(data_sample['severity'])))
        per_metric = []
        for metric in self.metrics:
            start = len(metric.results)
            metric.process(data_batch, data_samples)
            new = metric.results[start:]
            del metric.results[start:]
            if len(new) != len(data_samples):
                raise ValueError(
                    f'CorruptionMetric: {type(metric).__name__}.process '
                    f'stored {len(new)} results for {len(data_samples)} '
                    'samples; only metrics that store one result per sample '
                    'can be split into groups')
            per_metric.append(new)
        for i, (corruption, severity) in enumerate(groups):
            self.results.append(
                dict(
                    corruption=corruption,
                    severity=severity,
                    results=[new[i] for new in per_metric]))

    def _group_metrics(self, items: List[list]) -> Dict[str, Any]:
        """Run every wrapped metric's ``compute_metrics`` on one group.

        Args:
            items (list[list]): Per sample, the results of each metric.

        Returns:
            dict: The metrics of the group, keys ``<prefix>/<key>``.
        """
        out: Dict[str, Any] = {}
        for i, metric in enumerate(self.metrics):
            computed = metric.compute_metrics([item[i] for item in items])
            for key, value in computed.items():
                name = f'{metric.prefix}/{key}' if metric.prefix else key
                if name in out:
                    raise ValueError(
                        f'CorruptionMetric: two wrapped metrics report '
                        f'{name!r}; give one of them another `prefix`')
                out[name] = value
        return out

    @staticmethod
    def _mean(per_group: List[Dict[str, Any]], what: str) -> Dict[str, Any]:
        """Key-wise mean of group metrics, over the keys of every group.

        Args:
            per_group (list[dict]): The metrics of each group.
            what (str): Description of the groups, for the warning.

        Returns:
            dict: Mean of each key present in all groups; floats for
            scalars, lists for arrays.
        """
        keys = list(per_group[0])
        for metrics in per_group[1:]:
            keys.extend(k for k in metrics if k not in keys)
        means: Dict[str, Any] = {}
        partial = []
        for key in keys:
            if not all(key in metrics for metrics in per_group):
                partial.append(key)
                continue
            values = np.stack([
                np.asarray(
                    v.detach().cpu().numpy()
                    if isinstance(v, torch.Tensor) else v,
                    dtype=np.float64) for v in (m[key] for m in per_group)
            ])
            mean = values.mean(axis=0)
            means[key] = float(mean) if mean.ndim == 0 else mean.tolist()
        if partial:
            print_log(
                f'CorruptionMetric: {partial} are reported by only some of '
                f'the {len(per_group)} groups ({what}); left out of their '
                'mean.',
                logger='current',
                level=logging.WARNING)
        return means

    def compute_metrics(self, results: List[dict]) -> Dict[str, Any]:
        """Compute the wrapped metrics per group and average them.

        Args:
            results (list[dict]): Per-sample dicts with ``corruption``,
                ``severity`` and ``results`` (one entry per wrapped metric).

        Returns:
            dict: Means over groups; see the class docstring for the keys.
        """
        if not results:
            print_log(
                'CorruptionMetric: no predicted sample; no key reported.',
                logger='current',
                level=logging.WARNING)
            return {}
        groups: Dict[GroupKey, List[list]] = OrderedDict()
        for res in results:
            groups.setdefault((res['corruption'], res['severity']),
                              []).append(res['results'])
        per_group = {
            key: self._group_metrics(items)
            for key, items in groups.items()
        }
        corruptions = list(OrderedDict.fromkeys(c for c, _ in groups))
        severities = sorted({s for _, s in groups})
        print_log(
            f'CorruptionMetric: {len(results)} samples in {len(groups)} '
            f'groups ({len(corruptions)} corruptions, severities '
            f'{severities}); reporting means over groups.',
            logger='current')
        metrics = self._mean(list(per_group.values()), 'all groups')
        if self.per_corruption:
            for name in corruptions:
                part = [m for (c, _), m in per_group.items() if c == name]
                for key, value in self._mean(part, name).items():
                    metrics[f'{name}/{key}'] = value
        if self.per_severity:
            for severity in severities:
                part = [m for (_, s), m in per_group.items() if s == severity]
                for key, value in self._mean(part,
                                             f'severity {severity}').items():
                    metrics[f'severity{severity}/{key}'] = value
        return metrics
