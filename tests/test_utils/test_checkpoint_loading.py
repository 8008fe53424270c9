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

from mmmixmo.utils import (CheckpointMismatchError, history_buffer_getattr,
                           load_checkpoint_checked, load_state_dict_checked,
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


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4),
                         nn.Flatten(), nn.Linear(4, 2))


def test_checked_load_takes_a_fitting_state_dict():
    source, target = _net(), _net()
    weights = {'module.' + k: v for k, v in source.state_dict().items()}
    del weights['module.1.num_batches_tracked']  # old checkpoints lack it
    load_state_dict_checked(target, weights, 'src')
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key


def test_checked_load_names_every_kind_of_mismatch():
    target = _net()
    before = {k: v.clone() for k, v in target.state_dict().items()}
    weights = dict(_net().state_dict())
    weights['3.weight'] = torch.zeros(5, 4)  # mis-shaped
    for key in ('0.bias', '1.weight', '1.bias', '1.running_mean'):
        del weights[key]  # 4 missing: 3 named, then '...'
    weights['extra.weight'] = torch.zeros(1)  # unexpected
    with pytest.raises(CheckpointMismatchError) as error:
        load_state_dict_checked(target, weights, "checkpoint 'a.pth' into b")
    assert str(error.value) == (
        "checkpoint 'a.pth' into b does not fit: 4 missing keys (0.bias; "
        '1.weight; 1.bias, ...), 1 unexpected key (extra.weight), 1 '
        'mis-shaped key (3.weight: [5, 4] in the checkpoint, [2, 4] in the '
        'model). Use the config the checkpoint was trained with (and the '
        'same --cfg-options)')
    with pytest.raises(CheckpointMismatchError, match=r'options\); HINT$'):
        load_state_dict_checked(target, weights, 'src', hint='HINT')
    # asked for: the keys that fit are loaded, the others stay
    load_state_dict_checked(target, weights, 'src', partial=True)
    assert torch.equal(target.state_dict()['0.weight'], weights['0.weight'])
    for key in ('0.bias', '1.weight', '3.weight'):
        assert torch.equal(target.state_dict()[key], before[key]), key


def test_checked_load_runs_the_model_load_hooks(tmp_path):
    """A module's load pre-hook may rename keys: the check sees the result."""
    target = _net()
    target.register_load_state_dict_pre_hook(
        lambda module, state_dict, prefix, *args: state_dict.update(
            {'3.weight': state_dict.pop('old_name')}))
    weights = dict(_net().state_dict())
    weights['old_name'] = weights.pop('3.weight')
    path = str(tmp_path / 'bare.pth')
    torch.save(weights, path)  # a bare state dict file
    assert load_checkpoint_checked(target, path, 'cfg.py') is not None
    assert torch.equal(target.state_dict()['3.weight'], weights['old_name'])
    with pytest.raises(CheckpointMismatchError,
                       match=r"^checkpoint '.*bare\.pth' into the model of "
                       r"'cfg\.py' does not fit: 1 missing key \(3\.weight\)"):
        load_checkpoint_checked(_net(), path, 'cfg.py')


def test_checked_load_unwraps_ddp_around_tta(monkeypatch):
    """``tools/dist_test.sh --tta``: DDP(EnsembleScoreTTA(model)); the keys
    are the model's, as mmengine loads them."""
    from mmengine.model import BaseTTAModel
    from mmengine.registry import MODEL_WRAPPERS

    class Wrapper(nn.Module):  # stands for DDP, which needs a process group

        def __init__(self, module):
            super().__init__()
            self.module = module

    class TTA(BaseTTAModel):

        def merge_preds(self, data_samples_list):
            return data_samples_list[0]

    monkeypatch.setitem(MODEL_WRAPPERS._module_dict, 'TestWrapper', Wrapper)
    source, target = _net(), _net()
    target.test_step = None  # what BaseTTAModel asks of its module
    load_state_dict_checked(Wrapper(TTA(module=target)), source.state_dict(),
                            'src')
    assert torch.equal(target.state_dict()['3.weight'],
                       source.state_dict()['3.weight'])
