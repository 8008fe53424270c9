"""Record the channel order of the training images in checkpoints."""
from typing import Optional

from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...datasets.model_inputs import channel_order


@HOOKS.register_module()
class ChannelOrderHook(Hook):
    """Write ``meta['channel_order']`` (``'rgb'`` or ``'bgr'``) into every
    checkpoint: the order of the images the model trained on, before its
    data preprocessor (see :func:`~mmmixmo.datasets.model_inputs.
    channel_order`). Prediction on image files applies it.

    Note: an order the config does not tell (no pipeline found) is a
    warning when the run starts, and no key is written.
    """

    def before_run(self, runner) -> None:
        self.order: Optional[str] = None
        try:
            self.order = channel_order(runner.cfg)
        except ValueError as error:
            runner.logger.warning(
                f'ChannelOrderHook: {error}: the checkpoints will not record '
                'the channel order of the training images')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self.order is not None:
            checkpoint.setdefault('meta', {})['channel_order'] = self.order
