import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner import CheckpointLoader, load_checkpoint
from mmengine.runner import checkpoint as mmengine_checkpoint
from mmengine.utils import digit_version
from torch import nn

from mmmixmo.utils import (history_buffer_getattr,
                           mmengine_checkpoint_globals,
                           patch_local_checkpoint_loader)

TORCH_WEIGHTS_ONLY_DEFAULT = digit_version(
    torch.__version__) >= digit_version('2.6.0')


def _mmengine_like_checkpoint(path):
    """Save what mmengine's Runner saves: weights, meta and a message hub."""
    model = nn.Linear(3, 2)
    hub = MessageHub('test_checkpoint_loading')
    for i, loss in enumerate([3.0, 2.0, 1.0]):
        hub.update_scalar('train/loss', loss)
        hub.update_info('iter', i)
    hub.update_info('eta', np.float64(12.5))
    torch.save(
        dict(
            meta=dict(epoch=1, iter=3, seed=0, dataset_meta=dict()),
            state_dict=model.state_dict(),
            message_hub=hub.state_dict()), path)
    return model


class _Payload:
    """Pickles as a call of ``os.getcwd``: an arbitrary global."""

    def __reduce__(self):
        return os.getcwd, ()


class _GetattrPayload:
    """Pickles as ``getattr(obj, name)``."""

    def __init__(self, obj, name):
        self.obj, self.name = obj, name

    def __reduce__(self):
        return getattr, (self.obj, self.name)


def test_plain_torch_load_rejects_mmengine_checkpoints(tmp_path):
    if not TORCH_WEIGHTS_ONLY_DEFAULT:
        pytest.skip('torch < 2.6 loads with weights_only=False')
    path = str(tmp_path / 'epoch_1.pth')
    _mmengine_like_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)


def test_loader_reads_mmengine_checkpoints(tmp_path):
    safe_globals_before = set(torch.serialization.get_safe_globals())
    path = str(tmp_path / 'epoch_1.pth')
    model = _mmengine_like_checkpoint(path)
    ckpt = CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert ckpt['meta'] == dict(epoch=1, iter=3, seed=0, dataset_meta={})
    buffer = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buffer, HistoryBuffer)
    assert buffer.mean() == pytest.approx(2.0)
    assert buffer.current() == 1.0
    assert ckpt['message_hub']['runtime_info']['eta'] == 12.5
    # The statistics table holds HistoryBuffer's own functions.
    assert buffer._statistics_methods['mean'] is vars(HistoryBuffer)['mean']

    # `load_from` path: weights end up in the model.
    other = nn.Linear(3, 2)
    load_checkpoint(other, path, map_location='cpu')
    for key, value in model.state_dict().items():
        torch.testing.assert_close(other.state_dict()[key], value)
    # The allowlist only holds during the load.
    assert set(torch.serialization.get_safe_globals()) == safe_globals_before
    assert HistoryBuffer not in safe_globals_before


def test_loader_still_rejects_other_globals(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, payload=_Payload()), path)
    with pytest.raises(pickle.UnpicklingError, match='getcwd'):
        CheckpointLoader.load_checkpoint(path)


@pytest.mark.parametrize('obj, name', [(HistoryBuffer, '__init__'),
                                       (np.ndarray, 'tofile')])
def test_loader_rejects_other_getattr(tmp_path, obj, name):
    path = str(tmp_path / 'getattr.pth')
    torch.save(dict(payload=_GetattrPayload(obj, name)), path)
    with pytest.raises(pickle.UnpicklingError):
        CheckpointLoader.load_checkpoint(path)


def test_history_buffer_getattr():
    assert history_buffer_getattr(HistoryBuffer, 'max') is \
        vars(HistoryBuffer)['max']
    for obj, name in [(HistoryBuffer, '_set_default_statistics'),
                      (HistoryBuffer, 'data'), (HistoryBuffer(), 'mean'),
                      (np, 'save')]:
        with pytest.raises(pickle.UnpicklingError, match='only allows'):
            history_buffer_getattr(obj, name)


def test_globals_list_is_exactly_the_checkpoint_globals():
    names = {name for _, name in mmengine_checkpoint_globals()}
    assert {
        'mmengine.logging.history_buffer.HistoryBuffer', 'numpy.ndarray',
        'numpy.dtype', 'builtins.getattr',
        'numpy._core.multiarray._reconstruct',
        'numpy._core.multiarray.scalar', 'numpy.core.multiarray._reconstruct',
        'numpy.core.multiarray.scalar'
    } <= names
    others = names - {
        'mmengine.logging.history_buffer.HistoryBuffer', 'numpy.ndarray',
        'numpy.dtype', 'builtins.getattr'
    }
    assert all(name.startswith('numpy.') for name in others)
    assert dict((name, obj) for obj, name in mmengine_checkpoint_globals()
                )['builtins.getattr'] is history_buffer_getattr


def test_patch_is_idempotent():
    loader = CheckpointLoader._schemes['']
    assert patch_local_checkpoint_loader() is True
    assert CheckpointLoader._schemes[''] is loader
    # It wraps mmengine's own loader and keeps its name for the log message.
    assert loader.__wrapped__ is mmengine_checkpoint.load_from_local
    assert loader.__name__ == 'load_from_local'
