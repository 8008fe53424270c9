"""WrapperMetric: the base of the metrics that run other metrics."""
from typing import Any, Dict, List, Optional, Sequence, Union

from mmengine.evaluator import BaseMetric
from mmpretrain.registry import METRICS

MetricConfig = Union[dict, BaseMetric]


class WrapperMetric(BaseMetric):
    """Runs wrapped metrics on parts of its samples.

    A subclass stores the wrapped metrics' per-sample results in its own
    (:meth:`process_wrapped`) and computes them on the parts it chooses
    (:meth:`compute_wrapped`). The wrapped metrics must store one result per
    sample; their own ``collect_device`` is unused.

    Args:
        metrics (Sequence[dict | BaseMetric]): The wrapped metrics, as
            configs of mmpretrain's ``METRICS`` or built.
        names (Sequence[str]): How the errors name each of them (the
            argument of the subclass).
        collect_device (str): As in ``BaseMetric``. Defaults to 'cpu'.
        prefix (str, optional): As in ``BaseMetric``. Defaults to None.
        collect_dir (str, optional): As in ``BaseMetric``. Defaults to None.
    """

    def __init__(self,
                 metrics: Sequence[MetricConfig],
                 names: Sequence[str],
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.metrics: List[BaseMetric] = []
        for metric, name in zip(metrics, names):
            if isinstance(metric, dict):
                metric = METRICS.build(metric)
            if not isinstance(metric, BaseMetric):
                raise TypeError(
                    f'{type(self).__name__}: `{name}` must be a metric '
                    f'config or a BaseMetric, got {type(metric).__name__}')
            self.metrics.append(metric)

    @property
    def dataset_meta(self) -> Optional[dict]:
        """Meta info of the dataset, shared with the wrapped metrics."""
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta
        for metric in self.metrics:
            metric.dataset_meta = dataset_meta

    def process_wrapped(self, data_batch: Any,
                        data_samples: Sequence[dict]) -> List[list]:
        """Each wrapped metric's results of ``data_samples``, taken out of
        its ``results``: one list per metric, one result per sample."""
        per_metric = []
        for metric in self.metrics:
            start = len(metric.results)
            if data_samples:
                metric.process(data_batch, data_samples)
            per_metric.append(metric.results[start:])
            del metric.results[start:]
            if len(per_metric[-1]) != len(data_samples):
                raise ValueError(
                    f'{type(self).__name__}: {type(metric).__name__}.process '
                    f'stored {len(per_metric[-1])} results for '
                    f'{len(data_samples)} samples; only metrics that store '
                    'one result per sample can be wrapped')
        return per_metric

    def compute_wrapped(self, per_metric: List[list]) -> Dict[str, Any]:
        """The wrapped metrics' keys on their results (one list per metric),
        each under its prefix."""
        out: Dict[str, Any] = {}
        for metric, results in zip(self.metrics, per_metric):
            for key, value in metric.compute_metrics(results).items():
                name = f'{metric.prefix}/{key}' if metric.prefix else key
                if name in out:
                    raise ValueError(
                        f'{type(self).__name__}: two wrapped metrics report '
                        f'{name!r}; give one of them another `prefix`')
                out[name] = value
        return out
