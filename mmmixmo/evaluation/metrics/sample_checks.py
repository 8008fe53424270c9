"""Checks and batched reads of the predicted samples, shared by the metrics.

The metrics read a batch at once (:func:`read_field`, :func:`batch_labels`)
and store only what they need (:mod:`.batch_results`): that is what the
ranks gather.
"""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor

#: Key of a metric's per-sample result listing the fields it read that hold
#: NaN or inf; present only when there are some (gathered from all ranks).
NON_FINITE_KEY = 'non_finite'


def missing_prediction(metric: str) -> KeyError:
    """The error of a sample without the prediction a metric reads."""
    return KeyError(f'{metric} needs the `pred_score` of a classifier run '
                    "with mode='predict'")


def stack_field(data_samples: Sequence[dict], field: str) -> Tensor:
    """The ``field`` of the samples stacked ``(B, ...)``, detached, on the
    CPU."""
    return torch.stack([torch.as_tensor(s[field])
                        for s in data_samples]).detach().cpu()


def read_field(data_samples: Sequence[dict], field: str,
               results: List[dict]) -> Tuple[List[int], Optional[Tensor]]:
    """The ``field`` of the samples that have it, stacked, and marks.

    Args:
        data_samples (Sequence[dict]): A batch of predicted samples.
        field (str): The field read.
        results (list[dict]): The metric's results of the batch, one per
            sample: those whose field holds NaN or inf are marked
            (:func:`mark_non_finite_rows`).

    Returns:
        tuple[list[int], Tensor | None]: The positions of the samples that
        have the field and its values ``(P, ...)``, None if none has it.
    """
    index = [i for i, s in enumerate(data_samples) if field in s]
    if not index:
        return index, None
    values = stack_field(
        data_samples if len(index) == len(data_samples) else
        [data_samples[i] for i in index], field)
    mark_non_finite_rows(results, field, values, index)
    return index, values


def read_scores(data_samples: Sequence[dict],
                metric: str) -> Tuple[Tensor, List[dict], Tensor]:
    """The labels (:func:`batch_labels`), marks and ``pred_score`` of a
    batch whose samples must all have ``pred_score``.

    Returns:
        tuple[Tensor, list[dict], Tensor]: ``gt_label`` ``(B, )``, one dict
        per sample marked by :func:`read_field`, ``pred_score`` ``(B, ...)``.
    """
    marks: List[dict] = [{} for _ in data_samples]
    index, scores = read_field(data_samples, 'pred_score', marks)
    if len(index) < len(data_samples):
        raise missing_prediction(metric)
    return batch_labels(data_samples, metric), marks, scores


def batch_labels(data_samples: Sequence[dict], metric: str) -> Tensor:
    """The ``gt_label`` of the samples, checked as by :func:`single_label`,
    as an int64 tensor ``(B, )``."""
    labels = [data_sample['gt_label'] for data_sample in data_samples]
    if not all(isinstance(label, Tensor) and label.numel() == 1
               for label in labels):
        labels = [single_label(s, metric) for s in data_samples]
    if not labels:
        return torch.empty(0, dtype=torch.long)
    return torch.cat([label.reshape(1) for label in labels]).long().cpu()


def single_label(data_sample: dict, metric: str) -> Tensor:
    """The ``gt_label`` of a predicted sample as an int64 ``(1, )`` tensor.

    Args:
        data_sample (dict): A predicted sample.
        metric (str): Name of the metric, for the error message.

    Returns:
        Tensor: The class index, on the CPU.
    """
    gt_label = torch.as_tensor(data_sample['gt_label']).reshape(-1)
    if gt_label.numel() != 1:
        raise ValueError(f'{metric} is single-label: `gt_label` must hold one '
                         f'class index, got {gt_label.numel()} values')
    return gt_label.long().cpu()


def mark_non_finite(result: dict, data_sample: dict,
                    fields: Sequence[str]) -> dict:
    """Add to a result the ``fields`` of its sample that hold NaN or inf.

    Args:
        result (dict): The metric's result of ``data_sample``; its
            ``NON_FINITE_KEY``, a tuple of field names, gets those that are
            non-finite.
        data_sample (dict): A predicted sample.
        fields (Sequence[str]): The fields the metric read, as given (before
            any transform); absent ones are skipped.

    Returns:
        dict: ``result``.
    """
    non_finite = tuple(
        field for field in fields if field in data_sample
        and not torch.isfinite(torch.as_tensor(data_sample[field])).all())
    if non_finite:
        result[NON_FINITE_KEY] = result.get(NON_FINITE_KEY, ()) + non_finite
    return result


def mark_non_finite_rows(results: List[dict],
                         field: str,
                         values: Tensor,
                         index: Optional[Sequence[int]] = None) -> None:
    """Add ``field`` to the ``NON_FINITE_KEY`` of the results whose row of
    ``values`` holds NaN or inf.

    Args:
        results (list[dict]): The metric's results of a batch.
        field (str): The field, as the samples name it.
        values (Tensor): The field of the samples stacked ``(P, ...)``.
        index (Sequence[int], optional): The result of each row. Defaults
            to None: row ``i`` is ``results[i]``.
    """
    values = values.reshape(values.size(0), -1)
    # a NaN or inf makes the sum non-finite; those rows are then checked
    # one by one (a sum can overflow), several times faster than isfinite
    if torch.isfinite(values.sum()):
        return
    suspect = (~torch.isfinite(values.sum(dim=1))).nonzero()[:, 0]
    if suspect.numel():
        suspect = suspect[~torch.isfinite(values[suspect]).all(dim=1)]
    for row in suspect.tolist():
        result = results[row if index is None else index[row]]
        result[NON_FINITE_KEY] = result.get(NON_FINITE_KEY, ()) + (field, )
