"""Refuse unknown hook arguments before training starts."""
import difflib
import inspect
from typing import Iterator, Tuple

from mmengine.config import Config
from mmengine.hooks import CheckpointHook
from mmengine.registry import DefaultScope
from mmengine.utils import import_modules_from_strings
from mmpretrain.registry import HOOKS


def _hook_configs(cfg: Config) -> Iterator[Tuple[str, dict]]:
    """``(config key, hook config)`` of ``default_hooks`` and
    ``custom_hooks`` (not the disabled or already built ones)."""
    for name, hook in (cfg.get('default_hooks') or {}).items():
        if isinstance(hook, dict):
            yield f'default_hooks.{name}', hook
    for i, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict):
            yield f'custom_hooks[{i}]', hook


def check_hook_args(cfg: Config) -> None:
    """Raise on a hook argument that the hook does not take.

    The runner builds the hooks when it starts, but mmengine's
    ``CheckpointHook`` takes any keyword and hands it to
    ``Runner.save_checkpoint`` only at its first save, so that
    ``default_hooks.checkpoint.intervall=1`` fails after an epoch of
    training. Hooks that forward ``**kwargs`` elsewhere (``EMAHook`` to its
    model) are not checked.

    Args:
        cfg (Config): The config, before the runner is built.

    Raises:
        ValueError: Naming the config key, the close matches and the
            hook's arguments.
    """
    # hooks of modules added by --cfg-options custom_imports=... register
    # on import (Config.fromfile imported the file's own)
    import_modules_from_strings(**cfg.get('custom_imports', dict(imports=[])))
    for key, hook in _hook_configs(cfg):
        hook_type = hook.get('type')
        with DefaultScope.overwrite_default_scope(
                cfg.get('default_scope', 'mmpretrain')):
            hook_cls = HOOKS.get(hook_type) if isinstance(
                hook_type, str) else hook_type
        if not inspect.isclass(hook_cls):
            raise ValueError(f'{key}.type={hook_type!r} is not a registered '
                             'hook')
        params = list(inspect.signature(hook_cls).parameters.values())
        if any(p.kind is p.VAR_KEYWORD for p in params) and not issubclass(
                hook_cls, CheckpointHook):
            continue
        known = [p.name for p in params if p.kind is not p.VAR_KEYWORD]
        for arg in hook:
            if arg not in known and arg not in ('type', 'priority',
                                                '_scope_'):
                close = difflib.get_close_matches(arg, known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ''
                raise ValueError(
                    f'{key}.{arg}: {hook_cls.__name__} takes no argument '
                    f'{arg!r}{hint}; it takes {", ".join(known)}')
