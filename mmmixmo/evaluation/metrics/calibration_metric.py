"""Calibration metrics (NLL, ECE, Brier, temperature-scaled NLL_c / ECE_c)."""
import logging
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from ..functional import (brier_score, ensemble_logits_from_probs,
                          expected_calibration_error, temperature_scaled_nll,
                          two_fold_temperature_scaling)


@METRICS.register_module()
class CalibrationMetric(BaseMetric):
    """Calibration of the ensemble prediction of any mmpretrain classifier.

    Works for MixMo models (``M >= 2`` heads) and for any single-output
    classifier (``M = 1``). Top-1 / top-5 are left to mmpretrain's
    ``Accuracy``; add both to the evaluator, e.g.
    ``val_evaluator = [dict(type='Accuracy', topk=(1, 5)),
    dict(type='CalibrationMetric')]``.

    **Ensemble logits.** Every score is computed from one ``(K, )`` logit
    vector per sample: the sample's ``ensemble_logits`` ``(K, )`` when it
    carries them (set by models whose ensemble rule is not the mean of
    ``head_logits``, e.g. ``EnsembleClassifier(average='probs')``, with
    ``softmax(ensemble_logits) == pred_score``), else
    ``head_logits.mean(0)`` when the sample carries
    ``head_logits`` ``(M, K)`` (MixMo: the ensemble prediction is the
    softmax of the mean head logits, so this matches ``pred_score``),
    otherwise ``log(clamp(pred_score, 1.18e-38))``. The latter equals the
    classifier's logits up to a per-sample additive constant, which softmax
    ignores even after dividing by a temperature, so temperature scaling on
    it is exact.

    **Keys** (prefixed ``calibration/`` by default):

    - ``nll``: mean negative log-likelihood of the true class, in nats
      (the paper's CIFAR tables print it in units of 1e-2).
    - ``ece``: expected calibration error with ``num_bins`` equal-width
      bins on the max probability, right-closed bins, as a fraction in
      ``[0, 1]`` (not a percentage).
    - ``brier``: multi-class Brier score
      ``mean_n sum_k (p_nk - onehot_k)^2``, *not* divided by K, in
      ``[0, 2]``.
    - ``nll_c``, ``ece_c``: the same after two-fold temperature scaling,
      same units. The set is split by a fixed-seed permutation
      (``split_seed``) into halves ``perm[:N // 2]`` and ``perm[N // 2:]``;
      a temperature fitted on one half (golden-section search on ``log T``
      in ``[-3, 3]``, deterministic) scales the other half, which is scored;
      then the halves swap and the two scores are averaged.
    - ``temperature``: mean of the two fitted temperatures (``T > 1``
      means the raw predictions are over-confident).

    The calibrated keys need at least 2 samples per half (``N >= 4``); on a
    smaller set they are absent and a warning is logged.

    Under DDP each rank stores per-sample CPU tensors in :meth:`process`;
    :class:`~mmengine.evaluator.BaseMetric` gathers them (in dataset order,
    dropping the sampler's padding) and only the main process runs
    :meth:`compute_metrics`, so the split is the same for any world size.

    Args:
        num_bins (int): Number of ECE bins. Defaults to 15 (as in the
            paper).
        split_seed (int): Seed of the permutation that splits the set into
            the two temperature-scaling halves. Defaults to 0.
        collect_device (str): Device used to gather results across ranks,
            ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the keys. Defaults to None, i.e.
            ``'calibration'``.
        collect_dir (str, optional): Directory for gathering on the CPU.
            Defaults to None.
    """
    default_prefix: Optional[str] = 'calibration'

    def __init__(self,
                 num_bins: int = 15,
                 split_seed: int = 0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if isinstance(num_bins, bool) or not isinstance(num_bins,
                                                        int) or num_bins < 1:
            raise ValueError(
                '`num_bins` of the CalibrationMetric evaluator config (e.g. '
                "val_evaluator=dict(type='CalibrationMetric', num_bins=15)) "
                f'must be an int >= 1, got {num_bins!r}')
        if isinstance(split_seed, bool) or not isinstance(split_seed, int):
            raise ValueError(
                '`split_seed` of the CalibrationMetric evaluator config must '
                f'be an int, got {split_seed!r}')
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.num_bins = num_bins
        self.split_seed = split_seed

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store the ensemble logits and the label of every sample.

        Args:
            data_batch: A batch from the dataloader (unused).
            data_samples (Sequence[dict]): Predicted samples as dicts
                (``DataSample.to_dict()``) with ``pred_score`` ``(K, )``,
                ``gt_label`` ``(1, )`` and optionally ``ensemble_logits``
                ``(K, )`` or ``head_logits`` ``(M, K)``.
        """
        for data_sample in data_samples:
            if 'ensemble_logits' in data_sample:
                logits = torch.as_tensor(
                    data_sample['ensemble_logits']).detach().double()
            elif 'head_logits' in data_sample:
                logits = torch.as_tensor(
                    data_sample['head_logits']).detach().double().mean(0)
            elif 'pred_score' in data_sample:
                logits = ensemble_logits_from_probs(
                    torch.as_tensor(data_sample['pred_score']).detach())
            else:
                raise KeyError('CalibrationMetric needs `pred_score` (or '
                               '`head_logits`) on every predicted data '
                               'sample; the model must be a classifier '
                               "run with mode='predict'")
            if logits.dim() != 1:
                raise ValueError('CalibrationMetric expects one score vector '
                                 '(K, ) per sample, got logits of shape '
                                 f'{tuple(logits.shape)}')
            gt_label = torch.as_tensor(data_sample['gt_label']).reshape(-1)
            if gt_label.numel() != 1:
                raise ValueError('CalibrationMetric is single-label: '
                                 '`gt_label` must hold one class index, got '
                                 f'{gt_label.numel()} values')
            self.results.append(
                dict(logits=logits.cpu(), gt_label=gt_label.long().cpu()))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the calibration scores on the gathered results.

        Args:
            results (list[dict]): Per-sample dicts with ``logits`` ``(K, )``
                and ``gt_label`` ``(1, )``.

        Returns:
            dict[str, float]: ``nll``, ``ece``, ``brier`` and, if the set has
            at least 4 samples, ``nll_c``, ``ece_c``, ``temperature``.
        """
        logits = torch.stack([res['logits'] for res in results]).double()
        labels = torch.cat([res['gt_label'] for res in results])
        probs = F.softmax(logits, dim=1)
        metrics = dict(
            nll=temperature_scaled_nll(logits, labels, 1.0),
            ece=expected_calibration_error(probs, labels, self.num_bins),
            brier=brier_score(probs, labels))
        if len(results) >= 4:
            scaled = two_fold_temperature_scaling(
                logits, labels, num_bins=self.num_bins, seed=self.split_seed)
            metrics.update(
                nll_c=scaled['nll_c'],
                ece_c=scaled['ece_c'],
                temperature=scaled['temperature'])
        else:
            print_log(
                f'CalibrationMetric: only {len(results)} samples, fewer than '
                '2 per half; nll_c, ece_c and temperature are skipped.',
                logger='current',
                level=logging.WARNING)
        return metrics
