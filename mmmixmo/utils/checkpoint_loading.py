"""Load mmengine's own local checkpoints with torch >= 2.6.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which only
unpickles tensors, containers and an allowlist of globals. mmengine 0.10.7
calls ``torch.load(filename, map_location=...)`` without ``weights_only``, and
the checkpoints it writes hold, besides tensors, the message hub of the runner:
:class:`~mmengine.logging.HistoryBuffer` objects with numpy arrays and the
buffer's statistics methods. So ``tools/train.py --resume``, ``tools/test.py``
and ``load_from`` fail on checkpoints that mmengine itself wrote.

The fix keeps ``weights_only=True``: :func:`patch_local_checkpoint_loader`
wraps mmengine's loader of local files (the scheme ``''`` of
:class:`~mmengine.runner.CheckpointLoader`) so that the original loader runs
inside ``torch.serialization.safe_globals(...)`` listing exactly the globals
found in mmengine checkpoints (``torch.serialization.
get_unsafe_globals_in_checkpoint`` on checkpoints of ``tools/train.py``):

- ``mmengine.logging.history_buffer.HistoryBuffer``;
- ``numpy.ndarray``, ``numpy.dtype`` and numpy's ``_reconstruct`` and
  ``scalar`` (under their numpy 2 names ``numpy._core.multiarray.*`` and their
  numpy 1 names ``numpy.core.multiarray.*``), and the classes of the plain
  numeric dtypes (``numpy.dtypes.Float64DType``, ...), which unpickling a
  dtype instantiates;
- ``builtins.getattr``, which pickle uses to store the unbound methods
  ``HistoryBuffer.min``/``max``/``current``/``mean`` of the buffer's
  statistics table. It is replaced by :func:`history_buffer_getattr`, which
  only looks up public functions defined on ``HistoryBuffer`` (the result
  still cannot be called by the unpickler), so the allowlist never
  grants a general ``getattr``.

Any other global still makes ``torch.load`` fail as before: arbitrary
unpickling is never enabled. When mmengine starts passing ``weights_only``
itself the extra allowlist is harmless, and on torch < 2.5 (no
``safe_globals``, ``weights_only=False`` by default) nothing is patched.
The patch is applied by ``import mmmixmo``.
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
    from numpy._core import multiarray as _np_multiarray
except ImportError:  # numpy 1.x
    from numpy.core import multiarray as _np_multiarray

# Dtypes of the numpy arrays and scalars in checkpoints (the message hub logs
# floats and counts); unpickling a dtype builds an instance of its class.
_NUMERIC_DTYPES = ('bool', 'int8', 'int16', 'int32', 'int64', 'uint8',
                   'uint16', 'uint32', 'uint64', 'float16', 'float32',
                   'float64')

# Marks the wrapper so that applying the patch twice wraps once.
_PATCHED_ATTR = '_mmmixmo_safe_globals'


def history_buffer_getattr(obj: Any, name: str) -> Callable:
    """Restricted ``getattr`` used to unpickle ``HistoryBuffer`` methods.

    Pickle stores a function whose qualified name is ``Class.method`` as
    ``getattr(Class, 'method')``. mmengine checkpoints contain exactly that
    for the statistics methods of :class:`~mmengine.logging.HistoryBuffer`.

    Args:
        obj (Any): The object the pickle looks the attribute up on; must be
            the ``HistoryBuffer`` class.
        name (str): The attribute name; must name a public function
            defined on ``HistoryBuffer`` (e.g. ``'mean'``).

    Returns:
        Callable: The function ``HistoryBuffer.<name>``.

    Raises:
        pickle.UnpicklingError: For any other object or attribute.
    """
    if obj is HistoryBuffer and isinstance(name, str) and \
            not name.startswith('_') and \
            inspect.isfunction(vars(HistoryBuffer).get(name)):
        return vars(HistoryBuffer)[name]
    raise pickle.UnpicklingError(
        f'mmmixmo only allows getattr(HistoryBuffer, <method>) in '
        f'checkpoints, got getattr({obj!r}, {name!r})')


def mmengine_checkpoint_globals() -> List[Tuple[Any, str]]:
    """The globals of mmengine checkpoints, as ``(object, 'module.name')``.

    Returns:
        list[tuple]: Entries for ``torch.serialization.safe_globals``.
    """
    entries = [
        (HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
        (np.ndarray, 'numpy.ndarray'),
        (np.dtype, 'numpy.dtype'),
        (history_buffer_getattr, 'builtins.getattr'),
    ]
    for module in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        entries.append((_np_multiarray._reconstruct, f'{module}._reconstruct'))
        entries.append((_np_multiarray.scalar, f'{module}.scalar'))
    for name in _NUMERIC_DTYPES:
        cls = type(np.dtype(name))
        entries.append((cls, f'{cls.__module__}.{cls.__qualname__}'))
    return entries


def patch_local_checkpoint_loader() -> bool:
    """Make mmengine's local checkpoint loader accept mmengine checkpoints.

    Replaces the loader registered for the scheme ``''`` (local files) of
    :class:`~mmengine.runner.CheckpointLoader` by a wrapper that calls it
    inside ``torch.serialization.safe_globals(mmengine_checkpoint_globals())``.
    Idempotent.

    Returns:
        bool: True if the loader is (now or already) patched, False on a
        torch without ``torch.serialization.safe_globals`` (< 2.5), where
        ``torch.load`` does not restrict globals by default.
    """
    if not hasattr(torch.serialization, 'safe_globals'):
        return False
    original = CheckpointLoader._schemes['']
    if getattr(original, _PATCHED_ATTR, False):
        return True

    @functools.wraps(original)
    def load_from_local(filename: str, map_location: Any) -> Any:
        with torch.serialization.safe_globals(mmengine_checkpoint_globals()):
            return original(filename, map_location)

    setattr(load_from_local, _PATCHED_ATTR, True)
    CheckpointLoader.register_scheme('', load_from_local, force=True)
    return True
