import cv2
import numpy as np
import pytest
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmengine.registry import DefaultScope
from mmpretrain.registry import TRANSFORMS

from mmmixmo.datasets.transforms import LoadImageFromFile


@pytest.fixture
def images(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (20, 30, 3), np.uint8)
    cv2.imwrite(str(tmp_path / 'ok.png'), image)
    cv2.imwrite(str(tmp_path / 'ok.jpg'), image)
    (tmp_path / 'empty.jpg').write_bytes(b'')
    (tmp_path / 'text.jpg').write_text('not an image')
    jpeg = (tmp_path / 'ok.jpg').read_bytes()
    (tmp_path / 'truncated.jpg').write_bytes(jpeg[:len(jpeg) // 2])
    return tmp_path


def test_it_replaces_mmcv_s_in_the_mmpretrain_scope():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert TRANSFORMS.get('LoadImageFromFile') is LoadImageFromFile


def test_the_same_images_as_mmcv(images):
    for name in ('ok.png', 'ok.jpg'):
        for args in (dict(), dict(color_type='grayscale', to_float32=True)):
            ours = LoadImageFromFile(**args)(dict(img_path=str(images / name)))
            theirs = MMCVLoadImageFromFile(**args)(
                dict(img_path=str(images / name)))
            assert ours.keys() == theirs.keys()
            np.testing.assert_array_equal(ours['img'], theirs['img'])
            assert ours['img_shape'] == theirs['img_shape'] == (20, 30)


@pytest.mark.parametrize('name', ['empty.jpg', 'text.jpg', 'truncated.jpg'])
def test_an_undecodable_file_is_named(images, name):
    path = str(images / name)
    with pytest.raises(ValueError) as error:
        LoadImageFromFile()(dict(img_path=path))
    assert str(error.value) == (f'cannot decode the image file {path!r}: '
                                'empty, truncated or not an image')
    # ignore_empty still skips it
    assert LoadImageFromFile(ignore_empty=True)(dict(img_path=path)) is None


def test_a_missing_file_is_still_file_not_found(images):
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        LoadImageFromFile()(dict(img_path=str(images / 'missing.jpg')))
