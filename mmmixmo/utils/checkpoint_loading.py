"""Load checkpoints: mmengine's own files with torch >= 2.6, and only into a
model they fit.

torch 2.6 made ``torch.load`` default to ``weights_only=True``; mmengine 0.10.7
calls it without ``weights_only``, and its checkpoints hold the runner's
message hub (``HistoryBuffer`` objects with numpy arrays and the buffer's
statistics methods), so ``--resume``, ``load_from`` and ``tools/test.py``
fail on them. The fix keeps the safe unpickler and allowlists exactly these
globals while mmengine loads a local file; any other global still fails.

mmengine loads a checkpoint that does not fit its model with a warning and
goes on (randomly initialised layers, a plausible but wrong result):
:func:`load_checkpoint_checked` refuses it instead.
"""
import functools
import inspect
import logging
import pickle
import re
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer, print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import CheckpointLoader
from torch import nn

try:  # numpy >= 2
    from numpy._core import multiarray
except ImportError:  # numpy 1.x
    from numpy.core import multiarray

# Unpickling a dtype of the message hub's arrays instantiates its class.
_DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
           'uint32', 'uint64', 'float16', 'float32', 'float64')


def history_buffer_getattr(obj: Any, name: str) -> Callable:
    """``getattr`` limited to the public methods of ``HistoryBuffer``.

    Pickle stores the buffer's statistics methods as
    ``getattr(HistoryBuffer, 'mean')``; allowlisted as ``builtins.getattr``,
    this never grants a general ``getattr``.
    """
    if obj is HistoryBuffer and isinstance(name, str) and \
            not name.startswith('_') and \
            inspect.isfunction(vars(HistoryBuffer).get(name)):
        return vars(HistoryBuffer)[name]
    raise pickle.UnpicklingError(
        f'mmmixmo only allows getattr(HistoryBuffer, <method>) in '
        f'checkpoints, got getattr({obj!r}, {name!r})')


def mmengine_checkpoint_globals() -> List[Tuple[Any, str]]:
    """``(object, 'module.name')`` of the globals of mmengine checkpoints."""
    entries = [
        (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
        (np.ndarray, 'numpy.ndarray'), (np.dtype, 'numpy.dtype'),
        (history_buffer_getattr, 'builtins.getattr')
    ]
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        entries += [(multiarray._reconstruct, f'{module}._reconstruct'),
                    (multiarray.scalar, f'{module}.scalar')]
    for dtype in _DTYPES:
        cls = type(np.dtype(dtype))
        entries.append((cls, f'{cls.__module__}.{cls.__qualname__}'))
    return entries


def patch_local_checkpoint_loader() -> bool:
    """Run mmengine's local-file loader inside ``safe_globals``; idempotent.

    Returns:
        bool: False on torch < 2.5 (no ``safe_globals``, nothing to fix).
    """
    if not hasattr(torch.serialization, 'safe_globals'):
        return False
    original = CheckpointLoader._schemes['']
    if getattr(original, '_mmmixmo_patched', False):
        return True

    @functools.wraps(original)
    def load_from_local(filename: str, map_location: Any) -> Any:
        with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
            return original(filename, map_location)

    load_from_local._mmmixmo_patched = True
    CheckpointLoader.register_scheme('', load_from_local, force=True)
    return True


class CheckpointMismatchError(RuntimeError):
    """Weights that do not fit the model they are loaded into."""


_SIZE_MISMATCH = re.compile(r'size mismatch for (\S+): copying a param with '
                            r'shape torch\.Size\((.*?)\) from checkpoint, '
                            r'the shape in current model is '
                            r'torch\.Size\((.*?)\)')


def load_state_dict_checked(model: nn.Module,
                            state_dict: Dict[str, torch.Tensor],
                            source: str,
                            partial: bool = False,
                            hint: Optional[str] = None) -> None:
    """Load weights into ``model``, refusing them unless they fit exactly.

    A ``module.`` prefix (a DDP model's keys) is dropped, as mmengine does.
    The model's own load hooks run as in ``load_state_dict`` (they may
    convert the keys). Missing keys (except BatchNorm's
    ``num_batches_tracked``, absent from old checkpoints), unexpected keys and
    keys of another shape are mismatches, and so are a single network's
    weights loaded into a MixMo model (unfolded, they would make a model of
    M equal members).

    Args:
        model (nn.Module): The model, or its DDP and test-time
            augmentation wrappers.
        state_dict (dict[str, Tensor]): The weights.
        source (str): Where they come from and go to, for the message, e.g.
            ``"checkpoint 'a.pth' into the model of 'b.py'"``.
        partial (bool): Load the keys that fit, log the others as a warning,
            instead of raising. Defaults to False.
        hint (str, optional): The end of the error message, e.g. how to ask
            for a partial load where the caller offers one.

    Raises:
        CheckpointMismatchError: On a mismatch, naming ``source`` and up to
            three keys of each kind.
    """
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    state_dict = {
        re.sub(r'^module\.', '', k): v
        for k, v in state_dict.items()
    }
    single = [  # MixMoClassifiers (also ensemble members) given one
        f'{name}.' * bool(name) + f'backbone.{module.encoder_layer}.weight'
        for name, module in model.named_modules()
        if isinstance(getattr(module, 'encoder_layer', None), str)
    ]
    single = [key for key in single if key in state_dict]
    if single and not partial:
        raise CheckpointMismatchError(
            f'{source}: the weights are a single network\'s ({single[0]}, '
            'no member encoders), not a MixMo model\'s. A MixMo model '
            'starts from a single network in training (load_from, or the '
            'backbone\'s init_cfg Pretrained); test the single network '
            'with its own config, or ask for the MixMo model it starts '
            '(M equal members) with a partial load' +
            (f'; {hint}' if hint else ''))
    found = {}
    handle = model.register_load_state_dict_post_hook(
        lambda module, keys: found.update(
            missing=list(keys.missing_keys),
            unexpected=list(keys.unexpected_keys)))
    shapes = []
    try:
        model.load_state_dict(state_dict, strict=False)
    except RuntimeError as error:
        shapes = [
            f'{m[1]}: {m[2]} in the checkpoint, {m[3]} in the model'
            for m in _SIZE_MISMATCH.finditer(str(error))
        ]
        if not shapes:
            raise
    finally:
        handle.remove()
    kinds = [
        ('missing', [
            k for k in found['missing']
            if not k.endswith('num_batches_tracked')
        ]), ('unexpected', found['unexpected']), ('mis-shaped', shapes)
    ]
    parts = [
        f'{len(keys)} {kind} key{"s" * (len(keys) > 1)} '
        f'({"; ".join(keys[:3])}{", ..." * (len(keys) > 3)})'
        for kind, keys in kinds if keys
    ]
    if not parts:
        return
    message = f'{source} does not fit: {", ".join(parts)}'
    if partial:
        print_log(f'{message}; partial load: only the keys that fit were '
                  'loaded', logger='current', level=logging.WARNING)
        return
    raise CheckpointMismatchError(
        f'{message}. Use the config the checkpoint was trained with (and the '
        'same --cfg-options)' + (f'; {hint}' if hint else ''))


def check_calibration(model: nn.Module, meta: Optional[dict],
                      source: str) -> None:
    """Refuse a calibrated checkpoint for a model calibrated otherwise.

    ``tools/calibrate.py`` records the calibration in ``meta['calibration']``
    and in the config it writes; the same weights under another config would
    predict other (uncalibrated) probabilities and no sets.

    Args:
        model (nn.Module): The model, or its wrappers.
        meta (dict, optional): The checkpoint's ``meta``.
        source (str): As in :func:`load_state_dict_checked`.

    Raises:
        CheckpointMismatchError: If ``meta`` has a calibration that is not
            the model's ``calibration``.
    """
    want = (meta or {}).get('calibration')
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    have = getattr(model, 'calibration', None)
    have = None if have is None else have.to_dict()
    if want is not None and want != have:
        raise CheckpointMismatchError(
            f'{source}: the checkpoint was calibrated by tools/calibrate.py '
            f'(model.calibration={want}) but the model\'s calibration is '
            f'{have}: use the config written with the checkpoint (its .py), '
            'or the uncalibrated checkpoint with the training config')


def load_checkpoint_checked(model: nn.Module,
                            filename: str,
                            config: str,
                            partial: bool = False,
                            hint: Optional[str] = None) -> dict:
    """Load an mmengine checkpoint (or a bare state dict) file into
    ``model``, refusing it unless it fits exactly.

    Args:
        model (nn.Module): The model built from ``config``.
        filename (str): The checkpoint.
        config (str): The config the model was built from, for the message.
        partial (bool): See :func:`load_state_dict_checked`.
        hint (str, optional): See :func:`load_state_dict_checked`.

    Returns:
        dict: The loaded checkpoint (``meta``, ``state_dict``, ...).
    """
    checkpoint = CheckpointLoader.load_checkpoint(filename, 'cpu')
    source = f'checkpoint {filename!r} into the model of {config!r}'
    load_state_dict_checked(model, checkpoint.get('state_dict', checkpoint),
                            source, partial, hint)
    check_calibration(model, checkpoint.get('meta'), source)
    return checkpoint
