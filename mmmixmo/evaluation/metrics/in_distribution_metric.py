"""InDistributionMetric: a metric on the in-distribution samples only."""
from typing import Any, Dict, List, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

from .wrapper_metric import WrapperMetric


@METRICS.register_module()
class InDistributionMetric(WrapperMetric):
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
        super().__init__([metric], ['metric'])
        self.collect_device = self.metric.collect_device
        self.prefix = self.metric.prefix
        self.collect_dir = self.metric.collect_dir

    @property
    def metric(self) -> BaseMetric:
        """The wrapped metric."""
        return self.metrics[0]

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store the wrapped metric's result of each in-distribution sample
        and a placeholder for each OOD one."""
        is_ood = [bool(s.get('is_ood', False)) for s in data_samples]
        results = iter(
            self.process_wrapped(
                data_batch,
                [s for s, ood in zip(data_samples, is_ood) if not ood])[0])
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
