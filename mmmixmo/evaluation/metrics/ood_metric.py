"""OODMetric: out-of-distribution detection by uncertainty scores."""
import logging
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpretrain.registry import METRICS

from ..functional import (UNCERTAINTY_SCORES, auroc, average_precision,
                          fpr_at_tpr, ood_logits, uncertainty_scores)
from .batch_results import check_finite
from .sample_checks import (mark_non_finite, mark_non_finite_rows,
                            missing_prediction, read_field, stack_field)

#: The scores that not every model has, and what they need.
_NEEDS = (
    (('mutual_information', 'disagreement'),
     '`member_logits` (M, K) with M >= 2 (a multi-head model or an ensemble)'),
    (('energy', 'max_logit'),
     'logits: `ensemble_logits` or `member_logits`, written by MixMo models, '
     "deep ensembles and mmmixmo's single-network classifier"),
)


@METRICS.register_module()
class OODMetric(BaseMetric):
    """AUROC, AUPR-In, AUPR-Out and FPR95 of uncertainty scores.

    Every sample must carry ``is_ood`` (set by
    :class:`~mmmixmo.datasets.OODDataset`). The scores are those of
    :func:`~mmmixmo.evaluation.functional.uncertainty_scores` on
    ``pred_score``: ``max_prob`` and ``entropy`` for any classifier, plus
    ``mutual_information`` and ``disagreement`` when the sample has
    ``member_logits`` ``(M, K)`` with ``M >= 2`` (MixMo heads, ensemble
    members; their softmax are the member probabilities), plus ``energy``
    and ``max_logit`` when it has ``member_logits`` or ``ensemble_logits``
    (the logits of :func:`~mmmixmo.evaluation.functional.ood_logits`: the
    members' mean logits divided by the sample's ``temperature``, default
    1, else ``ensemble_logits``). Keys, fractions, per score ``s``:
    ``s/auroc`` and ``s/aupr_out`` (positive: OOD, score: ``s``),
    ``s/aupr_in`` (positive: in-distribution, score: ``-s``) and
    ``s/fpr95``, the share of OOD samples accepted when 95 % of the
    in-distribution ones are (lower is better). No key is reported (with a
    warning) unless both parts are present. NaN or inf in a field read
    (``pred_score``, ``member_logits`` and ``temperature``, or
    ``ensemble_logits`` without ``member_logits``) raises a ValueError.

    Args:
        scores (str | Sequence[str], optional): Names of the scores, among
            ``UNCERTAINTY_SCORES``. Defaults to None: every available one.
        collect_device (str): As in ``BaseMetric``. Defaults to 'cpu'.
        prefix (str, optional): Prefix of the keys. Defaults to 'ood'.
        collect_dir (str, optional): As in ``BaseMetric``. Defaults to None.
    """
    default_prefix: Optional[str] = 'ood'

    def __init__(self,
                 scores: Optional[Union[str, Sequence[str]]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        if isinstance(scores, str):
            scores = (scores, )
        if scores is not None:
            if not isinstance(scores, Sequence) or not scores or any(
                    name not in UNCERTAINTY_SCORES for name in scores) \
                    or len(set(scores)) != len(scores):
                raise ValueError(
                    'OODMetric: scores must be None or distinct names among '
                    f'{UNCERTAINTY_SCORES}, got {scores!r}')
            scores = tuple(scores)
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.scores = scores

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Store ``is_ood`` and the uncertainty scores (floats) of each
        sample."""
        for data_sample in data_samples:
            if 'is_ood' not in data_sample:
                raise KeyError(
                    'OODMetric: a predicted sample has no `is_ood`; the test '
                    "set must be an OODDataset: dataset=dict(type="
                    "'OODDataset', in_dist=..., ood=...)")
            if 'pred_score' not in data_sample:
                raise missing_prediction('OODMetric')
        if not data_samples:
            return
        heads = [i for i, s in enumerate(data_samples) if 'member_logits' in s]
        ensemble = [
            i for i, s in enumerate(data_samples)
            if 'member_logits' not in s and 'ensemble_logits' in s
        ]
        multi = [
            i for i in heads
            if torch.as_tensor(data_samples[i]['member_logits']).dim() == 2
            and len(data_samples[i]['member_logits']) >= 2
        ]
        for name, count, needs in (
            ('`member_logits` (M >= 2)', len(multi), 'it'),
            ('`member_logits` or `ensemble_logits`',
             len(heads) + len(ensemble), 'one'),
        ):
            if 0 < count < len(data_samples):
                raise ValueError(
                    f'OODMetric: {name} is on {count} of {len(data_samples)} '
                    f'samples; every sample must carry {needs} or none')
        results = [dict(is_ood=bool(s['is_ood'])) for s in data_samples]
        _, probs = read_field(data_samples, 'pred_score', results)
        logits = torch.empty(probs.shape, dtype=torch.float64)
        member_probs = None
        _, member_logits = read_field(data_samples, 'member_logits', results)
        if heads and (member_logits.dim() != 3
                      or member_logits.size(-1) != probs.size(-1)):
            raise ValueError(
                'OODMetric: `member_logits` must be (M, K) per sample, K the '
                f'{probs.size(-1)} classes of `pred_score`; got '
                f'{tuple(member_logits.shape[1:])}')
        if heads:
            for i in heads:
                mark_non_finite(results[i], data_samples[i], ('temperature', ))
            temperatures = torch.tensor([
                float(data_samples[i].get('temperature', 1.0)) for i in heads
            ], dtype=torch.float64)
            logits[heads] = ood_logits(member_logits, None,
                                       temperatures[:, None])
            if multi:
                member_probs = member_logits.double().softmax(-1)
        if ensemble:
            values = stack_field([data_samples[i] for i in ensemble],
                                 'ensemble_logits')
            mark_non_finite_rows(results, 'ensemble_logits', values, ensemble)
            logits[ensemble] = ood_logits(None, values)
        with_logits = heads or ensemble
        scores = uncertainty_scores(probs, member_probs,
                                    logits if with_logits else None)
        names = self.scores or tuple(scores)
        missing = [name for name in names if name not in scores]
        if missing:
            raise ValueError('OODMetric: ' + '; '.join(
                f'scores {[name for name in missing if name in group]} '
                f'need {need}' for group, need in _NEEDS
                if set(missing) & set(group)) + '; the samples have none')
        values = torch.stack([scores[name] for name in names], 1).tolist()
        for result, row in zip(results, values):
            result['scores'] = dict(zip(names, row))
        self.results.extend(results)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Compute the keys on the results gathered from all ranks."""
        check_finite(results, 'OODMetric')
        names = list(results[0]['scores']) if results else []
        if any(list(res['scores']) != names for res in results):
            raise ValueError(
                'OODMetric: the samples do not all have the same scores: '
                '`member_logits` and `ensemble_logits` must each be on every '
                'sample or on none')
        is_ood = torch.tensor([res['is_ood'] for res in results],
                              dtype=torch.bool)
        num_ood = int(is_ood.sum())
        if not 0 < num_ood < len(results):
            print_log(
                f'OODMetric: {num_ood} of {len(results)} samples are OOD; '
                'OOD detection needs both in-distribution and OOD samples '
                '(an OODDataset): no key is reported.',
                logger='current',
                level=logging.WARNING)
            return {}
        metrics = {}
        for name in names:
            score = torch.tensor([res['scores'][name] for res in results],
                                 dtype=torch.float64)
            metrics.update({
                f'{name}/auroc': auroc(score, is_ood),
                f'{name}/aupr_in': average_precision(-score, ~is_ood),
                f'{name}/aupr_out': average_precision(score, is_ood),
                f'{name}/fpr95': fpr_at_tpr(-score, ~is_ood, 0.95),
            })
        return metrics
