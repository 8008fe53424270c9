from types import SimpleNamespace

from mmengine.config import Config

from mmmixmo.engine.hooks import ChannelOrderHook


def test_checkpoints_record_the_channel_order_of_the_training_images():
    files = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
    arrays = [dict(type='RandomCrop', crop_size=32), dict(type='PackInputs')]
    for pipeline, order in ((files, 'bgr'), (arrays, 'rgb')):
        runner = SimpleNamespace(cfg=Config(
            dict(train_dataloader=dict(dataset=dict(pipeline=pipeline)))))
        checkpoint = dict(meta=dict(epoch=1))
        ChannelOrderHook().before_save_checkpoint(runner, checkpoint)
        assert checkpoint['meta'] == dict(epoch=1, channel_order=order)
