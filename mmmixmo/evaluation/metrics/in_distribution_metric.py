"""InDistributionMetric: a metric on the in-distribution samples only."""
from typing import Any, Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS


@METRICS.register_module()
class InDistributionMetric(BaseMetric):
    """Run a metric on the samples whose ``is_ood`` is not True.

    For the test sets of :class:`~mmmixmo.datasets.OODDataset`: accuracy and
    calibration stay those of the in-distribution part. The keys are the
    wrapped metric's, under its prefix (e.g. ``accuracy/top1``); so are
    ``collect_device`` and ``collect_dir``. No in-distribution sample at all
    raises a ValueError.

    Note: one result is kept per sample (a placeholder for an OOD one) so
    that ``evaluate(size)`` drops the samples a distributed sampler pads
    with, as for any metric; the wrapped metric must therefore store one
    result per sample. Its ``process`` gets the unfiltered ``data_batch``.

    Args:
        metric (dict | BaseMetric): The wrapped metric, as a config of
            mmpretrain's ``METRICS`` or built.
    """

    def __init__(self, metric: Union[dict, BaseMetric]) -> None:
        if isinstance(metric, dict):
            metric = METRICS.build(metric)
        if not isinstance(metric, BaseMetric):
            raise TypeError('InDistributionMetric: `metric` must be a metric '
                            f'config or a BaseMetric, got '
                            f'{type(metric).__name__}')
        super().__init__(
            collect_device=metric.collect_device,
            prefix=metric.prefix,
            collect_dir=metric.collect_dir)
        self.metric = metric

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Meta info of the dataset, shared with the wrapped metric."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        self.metric.dataset_meta = dataset_meta

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the wrapped metric's result of each in-distribution sample
        and a placeholder for each OOD one."""
        is_ood = [bool(s.get('is_ood', False)) for s in data_samples]
        in_dist = [s for s, ood in zip(data_samples, is_ood) if not ood]
        start = len(self.metric.results)
        if in_dist:
            self.metric.process(data_batch, in_dist)
        results = self.metric.results[start:]
        del self.metric.results[start:]
        if len(results) != len(in_dist):
            raise ValueError(
                f'InDistributionMetric: {type(self.metric).__name__}.process '
                f'stored {len(results)} results for {len(in_dist)} samples; '
                'only metrics that store one result per sample can be '
                'wrapped')
        results = iter(results)
        for ood in is_ood:
            self.results.append(
                dict(is_ood=ood, result=None if ood else next(results)))

    def compute_metrics(self, results: List[dict]) -> Dict[str, Any]:
        """The wrapped metric's keys on the in-distribution results."""
        in_dist = [res['result'] for res in results if not res['is_ood']]
        if not in_dist:
            raise ValueError(
                f'InDistributionMetric({type(self.metric).__name__}): none of '
                f'the {len(results)} samples is in-distribution (is_ood '
                'False); check `test_dataloader.dataset.in_dist`')
        return self.metric.compute_metrics(in_dist)
