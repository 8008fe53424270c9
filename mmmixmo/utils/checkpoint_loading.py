"""Load mmengine's own checkpoints with torch >= 2.6.

torch 2.6 made ``torch.load`` default to ``weights_only=True``; mmengine 0.10.7
calls it without ``weights_only``, and its checkpoints hold the runner's
message hub (``HistoryBuffer`` objects with numpy arrays and the buffer's
statistics methods), so ``--resume``, ``load_from`` and ``tools/test.py``
fail on them. The fix keeps the safe unpickler and allowlists exactly these
globals while mmengine loads a local file; any other global still fails.
"""
import functools
import inspect
import pickle
from typing import Any, Callable, List, Tuple

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

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
