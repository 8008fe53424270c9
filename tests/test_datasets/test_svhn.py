import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmpretrain.registry import DATASETS, MODELS
from scipy.io import loadmat, savemat, whosmat

from mmmixmo.datasets import SVHN
from mmmixmo.datasets.svhn import SVHN_URL
from tests.utils.fake_svhn import make_fake_svhn

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """train 30 / test 20 / extra 12 noise images, labels 1..10."""
    return make_fake_svhn(
        str(tmp_path_factory.mktemp('svhn')),
        num_test=20,
        num_train=30,
        num_extra=12)


def _mat(root, split):
    mat = loadmat(osp.join(root, f'{split}_32x32.mat'))
    return mat['X'], mat['y']


def test_fake_files_have_the_official_layout(root, tmp_path):
    assert sorted(whosmat(osp.join(root, 'test_32x32.mat'))) == [
        ('X', (32, 32, 3, 20), 'uint8'), ('y', (20, 1), 'uint8')
    ]
    _, y = _mat(root, 'train')
    # 30 labels cycling over 1..10: 3 of each, 10 (the digit 0) included
    assert np.bincount(y.ravel()).tolist() == [0] + [3] * 10
    assert not osp.exists(
        osp.join(make_fake_svhn(str(tmp_path)), 'extra_32x32.mat'))


@pytest.mark.parametrize('split, size', [('train', 30), ('test', 20),
                                         ('extra', 12)])
def test_samples_are_the_mat_images_and_digits(root, split, size):
    dataset = SVHN(root, split=split)
    images, y = _mat(root, split)
    assert len(dataset) == size and dataset.split == split
    assert dataset.CLASSES == tuple('0123456789')
    for i in range(size):
        info = dataset.get_data_info(i)
        img = info['img']
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
        assert img.flags.c_contiguous
        np.testing.assert_array_equal(img, images[:, :, :, i])
        assert info['gt_label'] == y[i, 0] % 10
        assert info['sample_idx'] == i
    # label 10 is the digit 0, the others are unchanged
    labels = dataset.get_gt_labels()
    assert labels.tolist() == [0 if v == 10 else v for v in y.ravel()]
    assert labels.min() == 0 and labels.max() == 9


def test_cifar10_test_pipeline_and_preprocessor_apply_unchanged(root):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs/_base_/datasets/cifar10_bs64.py'))
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert [t['type'] for t in pipeline] == ['PackInputs']
    dataset = DATASETS.build(
        dict(type='SVHN', data_root=root, split='test', pipeline=pipeline))
    images, y = _mat(root, 'test')
    item = dataset[3]
    inputs = item['inputs']
    assert inputs.shape == (3, 32, 32) and inputs.dtype == torch.uint8
    # CHW of the HWC RGB image: channel c, row h, column w = X[h, w, c, 3]
    for c, h, w in ((0, 0, 0), (1, 5, 17), (2, 31, 30)):
        assert inputs[c, h, w].item() == images[h, w, c, 3]
    torch.testing.assert_close(
        inputs, torch.from_numpy(images[:, :, :, 3]).permute(2, 0, 1))
    assert item['data_samples'].gt_label.tolist() == [y[3, 0] % 10]
    assert item['data_samples'].sample_idx == 3

    # the config's data preprocessor: (x - mean_c) / std_c, no BGR swap
    preprocessor = MODELS.build(
        dict(type='ClsDataPreprocessor', **cfg.data_preprocessor))
    batch = preprocessor(pseudo_collate([dataset[2], dataset[3]]))
    mean, std = cfg.data_preprocessor.mean, cfg.data_preprocessor.std
    c, h, w = 2, 7, 9
    expected = (float(images[h, w, c, 3]) - mean[c]) / std[c]
    assert batch['inputs'].shape == (2, 3, 32, 32)
    assert batch['inputs'][1, c, h, w].item() == pytest.approx(expected)
    assert [s.gt_label.item() for s in batch['data_samples']] == \
        (y[2:4, 0] % 10).tolist()


def test_missing_file_names_the_path_and_the_url(tmp_path, root):
    path = osp.join(str(tmp_path), 'test_32x32.mat')
    with pytest.raises(FileNotFoundError,
                       match=re.escape(path) + '.*' + re.escape(SVHN_URL)):
        SVHN(str(tmp_path))
    assert SVHN_URL == 'http://ufldl.stanford.edu/housenumbers/'
    # lazy_init: the file is needed only when the samples are loaded
    lazy = SVHN(str(tmp_path), split='extra', lazy_init=True)
    assert lazy.CLASSES[0] == '0'
    with pytest.raises(FileNotFoundError, match='extra_32x32.mat not found'):
        lazy.full_init()


@pytest.mark.parametrize('split', ['val', 'Test', 'test_32x32'])
def test_bad_split(root, split):
    with pytest.raises(ValueError,
                       match=f"dataset.split of SVHN .* got '{split}'"):
        SVHN(root, split=split)


@pytest.mark.parametrize('images, labels, message', [
    (np.zeros((32, 32, 3, 4), np.float32), np.ones((4, 1)), 'uint8'),
    (np.zeros((3, 32, 32, 4), np.uint8), np.ones((4, 1)), r'\(3, 32, 32, 4\)'),
    (np.zeros((32, 32, 3, 4), np.uint8), np.ones((3, 1)), r'y \(3, 1\)'),
    (np.zeros((32, 32, 3, 2), np.uint8), [[0], [3]], r'labels in \[0, 3\]'),
    (np.zeros((32, 32, 3, 2), np.uint8), [[11], [3]], 'outside 1..10'),
])
def test_bad_layout(tmp_path, images, labels, message):
    savemat(
        osp.join(str(tmp_path), 'test_32x32.mat'),
        dict(X=images, y=np.asarray(labels)))
    with pytest.raises(ValueError, match=message):
        SVHN(str(tmp_path))


def test_indices_and_layout_arguments(root):
    dataset = SVHN(root, split='train', indices=5)
    assert len(dataset) == 5
    _, y = _mat(root, 'train')
    assert dataset.get_gt_labels().tolist() == (y[:5, 0] % 10).tolist()
    for key in ('ann_file', 'data_prefix', 'download'):
        with pytest.raises(TypeError, match=key):
            SVHN(root, **{key: 'x'})
