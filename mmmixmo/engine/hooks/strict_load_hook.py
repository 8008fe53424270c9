"""Refuse a checkpoint that does not fit the runner's model."""
from typing import Optional

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...utils.checkpoint_loading import (check_calibration,
                                         load_state_dict_checked)


@HOOKS.register_module()
class StrictLoadHook(Hook):
    """Stop ``load_from`` and ``resume`` on a checkpoint that does not fit.

    mmengine's runner loads checkpoints non-strictly: a checkpoint of another
    config only logs a warning, and the run goes on with the layers that did
    not load left as initialised. This hook loads the checkpoint into the
    model strictly (after the other hooks' ``after_load_checkpoint``, which
    may convert it; the runner then loads it again) and raises
    :class:`~mmmixmo.utils.CheckpointMismatchError` naming the config and the
    offending keys, or a calibrated checkpoint for a model calibrated
    otherwise (:func:`~mmmixmo.utils.check_calibration`).
    ``tools/test.py`` (unless ``--partial-load``) and ``tools/train.py
    --resume`` add it.

    Args:
        hint (str, optional): The end of the error message (e.g. the tool's
            option for a partial load). Defaults to None.
    """

    priority = 'LOWEST'

    def __init__(self, hint: Optional[str] = None) -> None:
        self.hint = hint

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        name = runner._load_from or 'the latest checkpoint of the work dir'
        source = (f'checkpoint {name!r} into the model of '
                  f'{runner.cfg.filename!r}')
        load_state_dict_checked(runner.model,
                                checkpoint.get('state_dict', checkpoint),
                                source, hint=self.hint)
        check_calibration(runner.model, checkpoint.get('meta'), source)
