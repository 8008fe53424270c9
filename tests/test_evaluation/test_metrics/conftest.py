"""Predictions shared by the metric tests."""
from typing import Callable, List

import pytest
import torch
from mmpretrain.structures import DataSample

# Two heads, six samples, labels 0, 1, 2, 0, 1, 2.
# head 0 predicts 0, 1, 2, 1, 2, 0 (right on 0, 1, 2) -> 50 %
# head 1 predicts 0, 2, 2, 0, 0, 0 (right on 0, 2, 3) -> 50 %
# mean logits [2,0,0], [0,1.5,.5], [0,0,2], [1.5,.5,0], [.5,0,1], [2,0,0]
# predict 0, 1, 2, 0, 2, 0 (right on 0..3) -> 66.667 %
HEAD_LOGITS = torch.tensor([
    [[2., 0., 0.], [2., 0., 0.]],
    [[0., 3., 0.], [0., 0., 1.]],
    [[0., 0., 2.], [0., 0., 2.]],
    [[0., 1., 0.], [3., 0., 0.]],
    [[0., 0., 2.], [1., 0., 0.]],
    [[2., 0., 0.], [2., 0., 0.]],
])


@pytest.fixture
def member_logits() -> torch.Tensor:
    """Head logits ``(6, 2, 3)`` of the labels :func:`head_labels`."""
    return HEAD_LOGITS.clone()


@pytest.fixture
def head_labels() -> List[int]:
    return [0, 1, 2, 0, 1, 2]


def _make_samples(labels, member_logits=None, probs=None) -> List[DataSample]:
    """DataSamples with gt_label and pred_score: as MixMo's head predicts
    (member_logits, their mean as ensemble_logits and its softmax), or
    ``probs``."""
    samples = []
    for i, label in enumerate(labels):
        sample = DataSample().set_gt_label(int(label))
        if member_logits is not None:
            sample.set_field(member_logits[i].float(), 'member_logits')
            sample.set_field(member_logits[i].float().mean(0),
                             'ensemble_logits')
            sample.set_pred_score(member_logits[i].float().mean(0).softmax(0))
        else:
            sample.set_pred_score(probs[i].float())
        samples.append(sample)
    return samples


@pytest.fixture
def make_samples() -> Callable[..., List[DataSample]]:
    return _make_samples


def _non_finite_error(metric: str, num: int, total: int, field: str) -> str:
    """The error of a metric with ``num`` of ``total`` samples non-finite in
    ``field``."""
    return (f'{metric}: NaN or inf in `{field}` of {num} of {total} samples; '
            'no metric is computed from them: check the model/checkpoint (a '
            'diverged training?)')


@pytest.fixture
def non_finite_error() -> Callable[[str, int, int, str], str]:
    return _non_finite_error


def _spoil(samples: List[DataSample], indices: List[int], field: str,
           value: float) -> None:
    """Set the second element of ``field`` of the samples at ``indices`` to
    ``value`` (a copy: the other fields are left as they are)."""
    for i in indices:
        tensor = getattr(samples[i], field).clone()
        tensor.view(-1)[1] = value
        samples[i].set_field(tensor, field)


@pytest.fixture
def spoil() -> Callable[..., None]:
    return _spoil
