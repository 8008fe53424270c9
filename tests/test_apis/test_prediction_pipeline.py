"""prediction_transforms, checkpoint_channel_order and PredictionPipeline."""
import os.path as osp

import mmcv
import numpy as np
import pytest
from mmengine.config import Config

from mmmixmo.apis import (PredictionPipeline, checkpoint_channel_order,
                          prediction_transforms)
from mmmixmo.apis import prediction_pipeline as module
from tests.conftest import REPO_ROOT

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'cut-mixmo_wrn16-1_1xb64-b2_digits.py')
IMAGEFOLDER = osp.join(REPO_ROOT, 'configs', 'imagefolder',
                       'cut-mixmo_wrn10-2_1xb64-b2_imagefolder.py')
IN1K = osp.join(REPO_ROOT, 'configs', 'mixmo',
                'cut-mixmo_resnet50_8xb64-b2_in1k.py')


def test_transforms_of_the_configs():
    # CIFAR-like: the test pipeline is PackInputs only: resize to the train
    # crop; (W, H) for mmcv, as JSON gives it back
    resize32 = [dict(type='Resize', scale=[32, 32])]
    assert prediction_transforms(Config.fromfile(QUICKSTART)) == resize32
    assert prediction_transforms(Config.fromfile(IMAGEFOLDER)) == resize32
    assert prediction_transforms(Config.fromfile(QUICKSTART),
                                 (40, 24)) == [
                                     dict(type='Resize', scale=[24, 40])
                                 ]
    # ImageNet: the test pipeline sets the size itself
    in1k = Config.fromfile(IN1K)
    assert prediction_transforms(in1k) == [
        dict(type='ResizeEdge', scale=256, edge='short'),
        dict(type='CenterCrop', crop_size=224)
    ]
    assert prediction_transforms(in1k, (224, 224)) == \
        prediction_transforms(in1k)
    with pytest.raises(ValueError, match=r'test_dataloader.dataset.pipeline '
                       r'brings the images to 224x224 \(H x W\), not 64x64'):
        prediction_transforms(in1k, (64, 64))
    with pytest.raises(ValueError, match='the config has no test_dataloader'):
        prediction_transforms(Config(dict(model=dict())))


def test_channel_order_from_the_checkpoint_else_the_config(monkeypatch):
    logs = []
    monkeypatch.setattr(module, 'print_log',
                        lambda message, **kwargs: logs.append(message))
    cfg = Config.fromfile(QUICKSTART)  # arrays: RGB
    assert checkpoint_channel_order(dict(channel_order='bgr'), cfg,
                                    "checkpoint 'a.pth'") == 'bgr'
    assert logs == []
    assert checkpoint_channel_order({}, cfg, "checkpoint 'a.pth'") == 'rgb'
    assert checkpoint_channel_order(
        None, Config.fromfile(IMAGEFOLDER), "checkpoint 'b.pth'") == 'bgr'
    assert checkpoint_channel_order(None, cfg, None) == 'rgb'
    assert logs[0] == (
        "checkpoint 'a.pth' has no meta channel_order (saved before "
        'ChannelOrderHook): images are given in RGB, as the pipelines of '
        f'{QUICKSTART} read them')
    assert logs[1].endswith(f'images are given in BGR, as the pipelines of '
                            f'{IMAGEFOLDER} read them')
    assert logs[2].startswith('no checkpoint loaded: images are given in '
                              'RGB')
    assert len(logs) == 3
    with pytest.raises(ValueError, match=r"'a.pth'.*got 'RGB'"):
        checkpoint_channel_order(dict(channel_order='RGB'), cfg,
                                 "checkpoint 'a.pth'")


@pytest.fixture
def colour_png(tmp_path):
    """A 20x30 image of distinct channels; returns the path and its RGB."""
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = np.arange(30, dtype=np.uint8) * 8  # R ramps along W
    rgb[..., 1] = 50
    rgb[..., 2] = 200
    path = str(tmp_path / 'colour.png')
    assert mmcv.imwrite(rgb[..., ::-1], path)  # OpenCV writes BGR
    return path, rgb


def test_files_to_the_channel_order_and_size(colour_png, tmp_path):
    path, rgb = colour_png
    resize = [dict(type='Resize', scale=[15, 10])]  # (W, H)
    want = mmcv.imresize(rgb, (15, 10)).transpose(2, 0, 1)
    got = PredictionPipeline(resize, 'rgb')(path)
    assert got.shape == (3, 10, 15) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        PredictionPipeline(resize, 'bgr')(path), want[::-1])
    # no transforms: the image as decoded, in the channel order
    np.testing.assert_array_equal(
        PredictionPipeline([], 'rgb')(path), rgb.transpose(2, 0, 1))
    # a grey file: three equal channels
    grey = str(tmp_path / 'grey.png')
    assert mmcv.imwrite(rgb[..., 0], grey)
    got = PredictionPipeline([], 'rgb')(grey)
    np.testing.assert_array_equal(got, np.stack([rgb[..., 0]] * 3))


def test_arrays_are_in_the_channel_order(colour_png):
    _, rgb = colour_png
    pipeline = PredictionPipeline([], 'rgb')
    for order in ('rgb', 'bgr'):  # never converted
        np.testing.assert_array_equal(
            PredictionPipeline([], order)(rgb), rgb.transpose(2, 0, 1))
    np.testing.assert_array_equal(pipeline(rgb[..., 0]),
                                  np.stack([rgb[..., 0]] * 3))
    np.testing.assert_array_equal(pipeline(rgb[..., :1]),
                                  np.stack([rgb[..., 0]] * 3))
    with pytest.raises(ValueError, match=r'\(H, W, 3\), got shape '
                       r'\(20, 30, 2\)'):
        pipeline(rgb[..., :2])
    with pytest.raises(ValueError, match="channel_order must be one of "
                       r"\('bgr', 'rgb'\), got 'RGB'"):
        PredictionPipeline([], 'RGB')


def test_unreadable_files_name_themselves(tmp_path):
    pipeline = PredictionPipeline([], 'rgb')
    empty = str(tmp_path / 'empty.jpg')
    open(empty, 'wb').close()
    with pytest.raises(ValueError, match=f"cannot decode the image file "
                       f"'{empty}'"):
        pipeline(empty)
    with pytest.raises(FileNotFoundError):
        pipeline(str(tmp_path / 'missing.png'))


def test_stack():
    images = [np.zeros((3, 4, 5), np.uint8), np.ones((3, 4, 5), np.uint8)]
    assert PredictionPipeline.stack(images).shape == (2, 3, 4, 5)
    with pytest.raises(ValueError, match=r'several sizes \[\(3, 4, 5\), '
                       r'\(3, 5, 4\)\]'):
        PredictionPipeline.stack(images + [np.zeros((3, 5, 4), np.uint8)])
