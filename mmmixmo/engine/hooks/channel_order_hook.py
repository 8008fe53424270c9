"""Record the channel order of the training images in checkpoints."""
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...datasets.model_inputs import channel_order


@HOOKS.register_module()
class ChannelOrderHook(Hook):
    """Write ``meta['channel_order']`` (``'rgb'`` or ``'bgr'``) into every
    checkpoint: the order of the images the model trained on, before its
    data preprocessor (see :func:`~mmmixmo.datasets.model_inputs.
    channel_order`). Prediction on image files applies it."""

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})['channel_order'] = channel_order(
            runner.cfg)
