"""BatchAccuracy: mmpretrain's Accuracy keeping only each sample's hits."""
from itertools import product
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmpretrain.evaluation import Accuracy
from mmpretrain.registry import METRICS

from .batch_results import (BatchRowsMetric, SampleRow, check_finite, concat,
                            segments)
from .sample_checks import read_scores


@METRICS.register_module()
class BatchAccuracy(BatchRowsMetric, Accuracy):
    """mmpretrain's ``Accuracy`` on ``pred_score``: same arguments, keys and
    values, but a rank keeps per sample only whether it is a hit for each
    (top-k, threshold), not its ``(K, )`` scores.

    Note: ``Accuracy`` stacks the ``(N, K)`` scores at compute, and on the
    CPU each kept score is a view that pickles its whole batch when the ranks
    gather. Here each batch's top-k is taken at process (the top-k of a row
    does not depend on the other rows), so the ranks gather ``N`` bools per
    (top-k, threshold) and ``N`` class counts. Unlike ``Accuracy``, a sample
    without ``pred_score`` (only ``pred_label``) raises, and so do NaN or inf
    in ``pred_score`` and samples of different numbers of classes.

    Args:
        topk (int | Sequence[int]): As in ``Accuracy``. Defaults to 1.
        thrs (float | Sequence[float | None] | None): As in ``Accuracy``.
            Defaults to 0.
        collect_device (str): As in ``BaseMetric``. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the keys. Defaults to 'accuracy'.
    """

    def __init__(self,
                 topk: Union[int, Sequence[int]] = (1, ),
                 thrs: Union[float, Sequence[Optional[float]], None] = 0.,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        topks = (topk, ) if isinstance(topk, int) else topk
        if not isinstance(topks, Sequence) or not topks or not all(
                type(k) is int and k >= 1 for k in topks):
            raise ValueError('BatchAccuracy: `topk` must be an int >= 1 or '
                             f'a sequence of them, got {topk!r}')
        super().__init__(topk, thrs, collect_device=collect_device,
                         prefix=prefix)
        if not self.thrs:
            raise ValueError('BatchAccuracy: `thrs` is empty')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the hits of the samples, bool ``hits`` ``(B, T * H)`` for
        the ``T`` top-k and ``H`` thresholds, and their number of classes,
        int32 ``classes`` ``(B, )`` (:meth:`store_rows`)."""
        if not data_samples:
            return
        labels, marks, scores = read_scores(data_samples, 'BatchAccuracy')
        if scores.dim() != 2:
            raise ValueError(
                'BatchAccuracy: `pred_score` must be one score per class, '
                f'(K, ), got {tuple(scores.shape[1:])} per sample')
        maxk = max(self.topk)
        if maxk > scores.size(1):
            raise ValueError(
                f'BatchAccuracy: `topk` {maxk} is more than the '
                f'{scores.size(1)} classes of `pred_score`')
        top_scores, top_labels = scores.float().topk(maxk, dim=1)
        hit = top_labels == labels[:, None]
        hits = [(hit if thr is None else hit & (top_scores > thr))[:, :k]
                .any(dim=1) for k, thr in product(self.topk, self.thrs)]
        self.store_rows(
            dict(hits=torch.stack(hits, 1).numpy(),
                 classes=np.full(len(labels), scores.size(1), np.int32)),
            marks)

    def compute_metrics(self, results: List[SampleRow]) -> Dict[str, float]:
        """Compute the keys, ``top{k}`` (and ``_thr-{thr:.2f}`` or
        ``_no-thr`` with several thresholds), on the results gathered from
        all ranks."""
        check_finite(results, 'BatchAccuracy')
        if not results:
            return {}
        segs = segments(results)
        classes = np.unique(concat(segs, 'classes'))
        if len(classes) > 1:
            raise ValueError(
                "BatchAccuracy: the samples' `pred_score` have different "
                f'numbers of classes {classes.tolist()}')
        counts = concat(segs, 'hits').sum(axis=0)
        metrics = {}
        for (k, thr), count in zip(product(self.topk, self.thrs), counts):
            name = f'top{k}'
            if len(self.thrs) > 1:
                name += '_no-thr' if thr is None else f'_thr-{thr:.2f}'
            # Accuracy's float32 arithmetic, for the same values
            metrics[name] = torch.tensor([float(count)]).mul_(
                100. / len(results)).item()
        return metrics
