"""Per-head accuracy and diversity of the subnetworks of a MixMo model."""
import logging
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from ..functional import pairwise_disagreement, ratio_errors, top1_accuracy


@METRICS.register_module()
class EnsembleDiversityMetric(BaseMetric):
    """Accuracy of each head, ensemble gain and diversity between heads.

    Reads ``head_logits`` ``(M, K)`` (set by MixMo's ``MultiHeadClsHead``),
    ``pred_score`` ``(K, )`` and ``gt_label`` ``(1, )`` from every predicted
    sample. It can sit in the evaluator of any mmpretrain classifier: for a
    model without ``head_logits`` (or with ``M = 1``) it returns no key at
    all (not NaN) and logs an info message once per evaluation.

    **Keys** (prefixed ``diversity/`` by default), for ``M >= 2``:

    - ``head{i}_top1`` for ``i = 0 .. M-1``: top-1 accuracy of head ``i``
      (argmax of its logits), in percent ``[0, 100]`` like ``Accuracy``.
    - ``ensemble_gain``: ensemble top-1 (argmax of ``pred_score``) minus the
      mean of the per-head top-1, in percentage points.
    - ``ratio_errors``: mean over head pairs of ``(N01 + N10) / N00``
      (``N00``: both heads wrong, ``N01 + N10``: exactly one wrong);
      dimensionless, higher is more diverse. A pair with ``N00 == 0`` is
      skipped (its ratio is undefined); if every pair is skipped the key is
      absent and a warning is logged.
    - ``disagreement``: mean over head pairs of the fraction of samples on
      which the two heads' argmax differ, as a fraction in ``[0, 1]``.

    Under DDP each rank stores per-sample CPU tensors (the head argmaxes,
    the ensemble argmax and the label) and
    :class:`~mmengine.evaluator.BaseMetric` gathers them before
    :meth:`compute_metrics` runs on the main process.

    Args:
        collect_device (str): Device used to gather results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the keys. Defaults to None, i.e.
            ``'diversity'``.
        collect_dir (str, optional): Directory for gathering on the CPU.
            Defaults to None.
    """
    default_prefix: Optional[str] = 'diversity'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the head predictions, ensemble prediction and label.

        Args:
            data_batch: A batch from the dataloader (unused).
            data_samples (Sequence[dict]): Predicted samples as dicts
                (``DataSample.to_dict()``).
        """
        for data_sample in data_samples:
            if 'pred_score' in data_sample:
                pred_label = torch.as_tensor(
                    data_sample['pred_score']).detach().argmax()
            elif 'pred_label' in data_sample:
                pred_label = torch.as_tensor(
                    data_sample['pred_label']).detach().reshape(-1)[0]
            else:
                raise KeyError('EnsembleDiversityMetric needs `pred_score` '
                               'on every predicted data sample; the model '
                               "must be a classifier run with mode='predict'")
            gt_label = torch.as_tensor(data_sample['gt_label']).reshape(-1)
            if gt_label.numel() != 1:
                raise ValueError('EnsembleDiversityMetric is single-label: '
                                 '`gt_label` must hold one class index, got '
                                 f'{gt_label.numel()} values')
            result = dict(
                pred_label=pred_label.long().reshape(1).cpu(),
                gt_label=gt_label.long().cpu())
            if 'head_logits' in data_sample:
                head_logits = torch.as_tensor(
                    data_sample['head_logits']).detach()
                if head_logits.dim() != 2:
                    raise ValueError('`head_logits` must have shape (M, K), '
                                     f'got {tuple(head_logits.shape)}')
                result['head_preds'] = head_logits.argmax(dim=1).long().cpu()
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute per-head accuracies and diversity on gathered results.

        Args:
            results (list[dict]): Per-sample dicts with ``pred_label``
                ``(1, )``, ``gt_label`` ``(1, )`` and optionally
                ``head_preds`` ``(M, )``.

        Returns:
            dict[str, float]: The keys listed in the class docstring, or an
            empty dict for ``M = 1`` / no ``head_logits``.
        """
        num_with_heads = sum('head_preds' in res for res in results)
        if num_with_heads == 0:
            print_log(
                'EnsembleDiversityMetric: the predictions carry no '
                '`head_logits` (single-output model, M = 1); no diversity '
                'keys are reported.',
                logger='current',
                level=logging.INFO)
            return {}
        if num_with_heads != len(results):
            raise ValueError(
                'EnsembleDiversityMetric: `head_logits` is present on '
                f'{num_with_heads} of {len(results)} samples; every sample '
                'must carry it (or none)')
        head_preds = torch.stack([res['head_preds'] for res in results])
        labels = torch.cat([res['gt_label'] for res in results])
        pred_labels = torch.cat([res['pred_label'] for res in results])
        num_heads = head_preds.size(1)
        if num_heads < 2:
            print_log(
                'EnsembleDiversityMetric: a single head (M = 1); no '
                'diversity keys are reported.',
                logger='current',
                level=logging.INFO)
            return {}

        metrics: Dict[str, float] = {}
        head_top1 = [
            top1_accuracy(head_preds[:, i], labels) for i in range(num_heads)
        ]
        for i, acc in enumerate(head_top1):
            metrics[f'head{i}_top1'] = acc
        metrics['ensemble_gain'] = top1_accuracy(
            pred_labels, labels) - sum(head_top1) / num_heads
        ratio = ratio_errors(head_preds, labels)
        if ratio is None:
            print_log(
                'EnsembleDiversityMetric: no pair of heads is wrong on a '
                'common sample (N00 = 0 for every pair); ratio_errors is '
                'undefined and skipped.',
                logger='current',
                level=logging.WARNING)
        else:
            metrics['ratio_errors'] = ratio
        metrics['disagreement'] = pairwise_disagreement(head_preds)
        return metrics
