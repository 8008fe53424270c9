import sys

import numpy as np
import pytest
import torch
from mmpretrain.registry import DATASETS
from mmpretrain.structures import DataSample
# In requirements.txt: fail, do not skip.
from sklearn.datasets import load_digits

from mmmixmo.datasets import Digits
from mmmixmo.datasets.digits import digit_to_rgb, stratified_split

# Test images per class of the default split (test_size=300 over the
# scikit-learn class counts 178 182 177 183 181 182 181 179 174 180):
# floor(300 n_c / 1797) gives 296, the 4 largest remainders ('7' .88,
# '0' .72, '2' .55, '3' .55) get one more.
TEST_PER_CLASS = [30, 30, 30, 31, 30, 30, 30, 30, 29, 30]


@pytest.fixture(scope='module')
def sklearn_digits():
    digits = load_digits()
    return digits.images, digits.target


@pytest.fixture(scope='module')
def train_set():
    return Digits(split='train')


@pytest.fixture(scope='module')
def test_set():
    return Digits(split='test')


def test_sizes_and_classes(train_set, test_set):
    assert len(train_set) == 1497 and len(test_set) == 300
    assert train_set.CLASSES == tuple('0123456789')
    assert np.bincount(test_set.get_gt_labels()).tolist() == TEST_PER_CLASS
    train_counts = np.bincount(train_set.get_gt_labels())
    assert (train_counts + TEST_PER_CLASS).tolist() == [
        178, 182, 177, 183, 181, 182, 181, 179, 174, 180
    ]


def test_images_are_uint8_rgb_32(train_set, test_set):
    for dataset in (train_set, test_set):
        for i in (0, len(dataset) - 1):
            info = dataset.get_data_info(i)
            img = info['img']
            assert img.shape == (32, 32, 3) and img.dtype == np.uint8
            assert (img[..., 0] == img[..., 1]).all()
            assert (img[..., 0] == img[..., 2]).all()
            assert isinstance(info['gt_label'], int)
            assert 'img_path' not in info


def test_samples_are_the_split_images(sklearn_digits):
    images, labels = sklearn_digits
    train_idx, test_idx = stratified_split(labels, 300, 0)
    # img_size=8: no resize, only the 255/16 scaling
    test8 = Digits(split='test', img_size=8)
    assert len(test8) == 300
    for j in (0, 1, 150, 299):
        info = test8.get_data_info(j)
        source = test_idx[j]
        expected = np.rint(images[source] * 255.0 / 16.0).astype(np.uint8)
        np.testing.assert_array_equal(info['img'][..., 0], expected)
        assert info['gt_label'] == labels[source]
    # samples keep scikit-learn's order
    train8 = Digits(split='train', img_size=8)
    first = np.rint(images[train_idx[0]] * 255 / 16).astype(np.uint8)
    np.testing.assert_array_equal(train8.get_data_info(0)['img'][..., 0],
                                  first)
    assert np.array_equal(train8.get_gt_labels(), labels[train_idx])


def test_stratified_split_hand_computed():
    # counts 5/3/2, test_size 4: quotas 2.0/1.2/0.8 -> floors 2/1/0, the
    # remaining slot goes to class 2 (largest fraction .8)
    labels = np.array([0, 1, 2, 0, 0, 1, 0, 2, 1, 0])
    train, test = stratified_split(labels, 4, seed=3)
    assert np.bincount(labels[test], minlength=3).tolist() == [2, 1, 1]
    assert len(train) == 6
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(10))
    assert (np.diff(test) > 0).all() and (np.diff(train) > 0).all()
    # equal fractions: ties go to the smaller label (1 slot, 2 classes)
    labels = np.array([0, 0, 1, 1])
    _, test = stratified_split(labels, 1, seed=0)
    assert labels[test].tolist() == [0]


def test_split_is_deterministic_and_disjoint(sklearn_digits):
    _, labels = sklearn_digits
    train, test = stratified_split(labels, 300, 0)
    again_train, again_test = stratified_split(labels, 300, 0)
    np.testing.assert_array_equal(train, again_train)
    np.testing.assert_array_equal(test, again_test)
    assert len(np.intersect1d(train, test)) == 0
    assert len(np.union1d(train, test)) == 1797
    # the quickstart numbers rely on this exact split (numpy PCG64 stream)
    assert test[:5].tolist() == [5, 12, 14, 16, 17]
    _, other = stratified_split(labels, 300, 1)
    assert not np.array_equal(test, other)

    a = Digits(split='test', seed=1)
    b = Digits(split='test', seed=1)
    np.testing.assert_array_equal(a.get_gt_labels(), b.get_gt_labels())
    np.testing.assert_array_equal(a.get_data_info(7)['img'],
                                  b.get_data_info(7)['img'])

    small = Digits(split='test', test_size=100, img_size=8)
    assert len(small) == 100
    assert len(Digits(split='train', test_size=100, img_size=8)) == 1697


def test_digit_to_rgb_bilinear_hand_computed():
    # a bright column at x=3 of the 8x8 grid; OpenCV's bilinear upscaling
    # x4 samples source x = (x_out + 0.5) / 4 - 0.5, e.g. x_out=12 -> 2.625,
    # weight 0.625 on column 3 -> 0.625 * 255 = 159.4 -> 159
    image = np.zeros((8, 8))
    image[:, 3] = 16
    out = digit_to_rgb(image, 32)
    assert out.shape == (32, 32, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(
        out[5, 8:20, 0], [0, 0, 32, 96, 159, 223, 223, 159, 96, 32, 0, 0])
    # borders are replicated: the corner keeps the corner value exactly
    image = np.full((8, 8), 4.0)
    image[0, 0] = 16
    out = digit_to_rgb(image, 16)
    assert out.shape == (16, 16, 3)
    assert out[0, 0, 0] == 255 and out[15, 15, 0] == 64
    # intensities are rounded: 5 * 255 / 16 = 79.69 -> 80
    assert digit_to_rgb(np.full((8, 8), 5.0), 8)[0, 0, 0] == 80


def test_img_size(sklearn_digits):
    images, _ = sklearn_digits
    test16 = Digits(split='test', img_size=16)
    img = test16.get_data_info(0)['img']
    assert img.shape == (16, 16, 3)
    _, test_idx = stratified_split(sklearn_digits[1], 300, 0)
    np.testing.assert_array_equal(img, digit_to_rgb(images[test_idx[0]],
                                                    16))


def test_registry_build_and_pipeline():
    dataset = DATASETS.build(
        dict(
            type='Digits',
            split='test',
            indices=4,
            pipeline=[
                dict(type='RandomCrop', crop_size=32, padding=4),
                dict(type='PackInputs')
            ]))
    assert isinstance(dataset, Digits) and len(dataset) == 4
    item = dataset[2]
    assert item['inputs'].shape == (3, 32, 32)
    assert item['inputs'].dtype == torch.uint8
    sample = item['data_samples']
    assert isinstance(sample, DataSample)
    assert sample.gt_label.tolist() == [dataset.get_data_info(2)['gt_label']]


@pytest.mark.parametrize('kwargs, error, key', [
    (dict(split='val'), ValueError, 'dataset.split'),
    (dict(img_size=0), ValueError, 'dataset.img_size'),
    (dict(img_size=32.0), ValueError, 'dataset.img_size'),
    (dict(test_size=9), ValueError, r'dataset.test_size .*\[10, 1787\]'),
    (dict(test_size=1788), ValueError, 'dataset.test_size'),
    (dict(seed=-1), ValueError, 'dataset.seed'),
    (dict(ann_file='a.txt'), TypeError, 'ann_file'),
    (dict(data_prefix='x'), TypeError, 'data_prefix'),
])
def test_invalid_arguments(kwargs, error, key):
    with pytest.raises(error, match=key):
        Digits(**kwargs)


def test_missing_sklearn_is_explained(monkeypatch):
    # lazy_init: scikit-learn (an optional dependency) is needed only when
    # the samples are loaded
    monkeypatch.setitem(sys.modules, 'sklearn.datasets', None)
    dataset = Digits(split='test', lazy_init=True)
    assert dataset.CLASSES == tuple('0123456789')
    with pytest.raises(ImportError, match='pip install scikit-learn'):
        dataset.full_init()
