from types import SimpleNamespace

import pytest
import torch
from torch import nn

from mmmixmo.engine.hooks import StrictLoadHook
from mmmixmo.utils import CheckpointMismatchError


def _runner(model: nn.Module, load_from) -> SimpleNamespace:
    return SimpleNamespace(
        model=model, _load_from=load_from,
        cfg=SimpleNamespace(filename='cfg.py'))


def test_a_fitting_checkpoint_passes_and_is_loaded():
    source, target = nn.Linear(3, 2), nn.Linear(3, 2)
    checkpoint = dict(state_dict={
        'module.' + k: v
        for k, v in source.state_dict().items()
    })
    StrictLoadHook().after_load_checkpoint(_runner(target, 'a.pth'),
                                           checkpoint)
    assert torch.equal(target.weight, source.weight)


@pytest.mark.parametrize('load_from, name', [
    ('a.pth', "'a.pth'"),
    (None, "'the latest checkpoint of the work dir'"),  # --resume alone
])
def test_a_checkpoint_of_another_model_stops_the_run(load_from, name):
    checkpoint = dict(state_dict=nn.Linear(3, 4).state_dict())
    with pytest.raises(CheckpointMismatchError) as error:
        StrictLoadHook().after_load_checkpoint(
            _runner(nn.Linear(3, 2), load_from), checkpoint)
    assert str(error.value).startswith(
        f"checkpoint {name} into the model of 'cfg.py' does not fit: 2 "
        'mis-shaped keys (weight: [4, 3] in the checkpoint, [2, 3] in the '
        'model; bias: [4] in the checkpoint, [2] in the model)')
