"""Checks of the predicted samples that the metrics read, shared by them."""
from collections import Counter
from typing import Any, List, Sequence

import torch
from torch import Tensor

#: Key of a metric's per-sample result listing the fields it read that hold
#: NaN or inf; present only when there are some (gathered from all ranks).
NON_FINITE_KEY = 'non_finite'


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
        result (dict): The metric's result of ``data_sample``; gets
            ``NON_FINITE_KEY``, a tuple of field names, if any is non-finite.
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
        result[NON_FINITE_KEY] = non_finite
    return result


def check_finite(results: List[Any], metric: str) -> None:
    """Raise if any of the gathered results was read from NaN or inf.

    Args:
        results (list): A metric's results of all the samples; those that
            are not dicts (of foreign metrics) have no mark.
        metric (str): Name of the metric, for the error message.
    """
    counts = Counter(
        field for res in results if isinstance(res, dict)
        for field in res.get(NON_FINITE_KEY, ()))
    if counts:
        where = ', '.join(f'`{field}` of {num} of {len(results)} samples'
                          for field, num in sorted(counts.items()))
        raise ValueError(
            f'{metric}: NaN or inf in {where}; no metric is computed from '
            'them: check the model/checkpoint (a diverged training?)')
