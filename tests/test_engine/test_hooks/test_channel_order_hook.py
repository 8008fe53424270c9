from types import SimpleNamespace

from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config

from mmmixmo.engine.hooks import ChannelOrderHook


class Logger:

    def __init__(self):
        self.warnings = []

    def warning(self, msg):
        self.warnings.append(msg)


def _saved_meta(dataset: dict) -> tuple:
    runner = SimpleNamespace(
        cfg=Config(dict(train_dataloader=dict(dataset=dataset))),
        logger=Logger())
    hook, checkpoint = ChannelOrderHook(), dict(meta=dict(epoch=1))
    hook.before_run(runner)
    hook.before_save_checkpoint(runner, checkpoint)
    return checkpoint['meta'], runner.logger.warnings


def test_checkpoints_record_the_channel_order_of_the_training_images():
    files = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    classes = [dict(type=LoadImageFromFile), dict(type='PackInputs')]
    arrays = [dict(type='RandomCrop', crop_size=32), dict(type='PackInputs')]
    for pipeline, order in ((files, 'bgr'), (classes, 'bgr'),
                            (arrays, 'rgb')):
        assert _saved_meta(dict(pipeline=pipeline)) == (
            dict(epoch=1, channel_order=order), [])


def test_an_order_the_config_does_not_tell_is_said_at_the_start():
    meta, warnings = _saved_meta(
        dict(type='ConcatDataset', datasets=[dict(pipeline=[])]))
    assert meta == dict(epoch=1)
    assert warnings == [
        "ChannelOrderHook: dataset type='ConcatDataset': no pipeline found in "
        'it nor in a wrapped dataset (dataset=... or in_dist=...): the '
        'checkpoints will not record the channel order of the training images'
    ]
