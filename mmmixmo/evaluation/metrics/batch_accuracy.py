"""BatchAccuracy: mmpretrain's Accuracy keeping only each sample's hits."""
from itertools import product
from typing import Dict, List, Sequence

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
    (top-k, threshold). Unlike ``Accuracy``, a sample without ``pred_score``
    (only ``pred_label``) raises, and so does NaN or inf in ``pred_score``.

    Args:
        topk (int | Sequence[int]): As in ``Accuracy``. Defaults to 1.
        thrs (float | Sequence[float | None] | None): As in ``Accuracy``.
            Defaults to 0.
        collect_device (str): As in ``BaseMetric``. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the keys. Defaults to 'accuracy'.
    """

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the hits of the samples, bool ``hits`` ``(B, T * H)`` for
        the ``T`` top-k and ``H`` thresholds (:meth:`store_rows`)."""
        if not data_samples:
            return
        labels, marks, scores = read_scores(data_samples, 'BatchAccuracy')
        maxk = max(self.topk)
        if maxk > scores.size(1):
            raise ValueError(
                f'BatchAccuracy: `topk` {maxk} is more than the '
                f'{scores.size(1)} classes of `pred_score`')
        top_scores, top_labels = scores.float().topk(maxk, dim=1)
        hit = top_labels == labels[:, None]
        hits = [(hit if thr is None else hit & (top_scores > thr))[:, :k]
                .any(dim=1) for k, thr in product(self.topk, self.thrs)]
        self.store_rows(dict(hits=torch.stack(hits, 1).numpy()), marks)

    def compute_metrics(self, results: List[SampleRow]) -> Dict[str, float]:
        """Compute the keys, ``top{k}`` (and ``_thr-{thr:.2f}`` or
        ``_no-thr`` with several thresholds), on the results gathered from
        all ranks."""
        check_finite(results, 'BatchAccuracy')
        counts = concat(segments(results), 'hits').sum(axis=0)
        metrics = {}
        for (k, thr), count in zip(product(self.topk, self.thrs), counts):
            name = f'top{k}'
            if len(self.thrs) > 1:
                name += '_no-thr' if thr is None else f'_thr-{thr:.2f}'
            # Accuracy's float32 arithmetic, for the same values
            metrics[name] = torch.tensor([float(count)]).mul_(
                100. / len(results)).item()
        return metrics
