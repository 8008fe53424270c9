import os.path as osp
import pickle
import re

import numpy as np
import pytest
from mmpretrain.datasets import CIFAR10
from mmpretrain.datasets import cifar as mmpretrain_cifar
from mmpretrain.datasets.categories import (CIFAR10_CATEGORIES,
                                            CIFAR100_CATEGORIES)
from mmpretrain.registry import DATASETS

from mmmixmo.datasets import LocalCIFAR10, LocalCIFAR100
from tests.utils.fake_cifar import make_fake_cifar10, make_fake_cifar100


@pytest.fixture(autouse=True)
def no_download(monkeypatch):
    """Fail the test if mmpretrain tries to download anything."""

    def forbidden(*args, **kwargs):
        raise AssertionError('the dataset tried to download')

    monkeypatch.setattr(mmpretrain_cifar, 'download_and_extract_archive',
                        forbidden)


def _pickled(path):
    with open(path, 'rb') as f:
        return pickle.load(f, encoding='latin1')


def test_fake_cifar10_layout(tmp_path):
    folder = osp.join(
        make_fake_cifar10(str(tmp_path), num_train=23, num_test=7),
        'cifar-10-batches-py')
    sizes = [
        len(_pickled(osp.join(folder, f'data_batch_{i}'))['labels'])
        for i in range(1, 6)
    ]
    assert sizes == [5, 5, 5, 4, 4]
    test = _pickled(osp.join(folder, 'test_batch'))
    assert test['data'].shape == (7, 3072) and test['data'].dtype == np.uint8
    assert sorted(test) == ['batch_label', 'data', 'filenames', 'labels']
    assert len(_pickled(osp.join(folder, 'batches.meta'))['label_names']) == 10


def test_local_cifar10_reads_fake_data(fake_cifar10_root):
    train = LocalCIFAR10(
        data_root=fake_cifar10_root, split='train', check_md5=False)
    test = DATASETS.build(
        dict(
            type='LocalCIFAR10',
            data_root=fake_cifar10_root,
            split='test',
            check_md5=False))
    assert isinstance(test, LocalCIFAR10)
    assert len(train) == 64 and len(test) == 32
    assert train.CLASSES == tuple(CIFAR10_CATEGORIES)
    # the first image/label of data_batch_1, CHW -> HWC
    batch = _pickled(
        osp.join(fake_cifar10_root, 'cifar-10-batches-py', 'data_batch_1'))
    info = train.get_data_info(0)
    assert info['gt_label'] == batch['labels'][0]
    np.testing.assert_array_equal(
        info['img'], batch['data'][0].reshape(3, 32, 32).transpose(1, 2, 0))
    # balanced labels: 64 images over 10 classes -> 6 or 7 each
    counts = np.bincount(train.get_gt_labels(), minlength=10)
    assert counts.min() == 6 and counts.max() == 7


def test_local_cifar10_checks_md5_by_default(fake_cifar10_root):
    with pytest.raises(RuntimeError, match='with check_md5=True'):
        LocalCIFAR10(data_root=fake_cifar10_root)
    # mmpretrain's own class cannot read the fake data either
    with pytest.raises(RuntimeError):
        CIFAR10(data_root=fake_cifar10_root, download=False)
    # check_md5=False shadows the md5 lists on the instance only
    LocalCIFAR10(data_root=fake_cifar10_root, check_md5=False)
    assert LocalCIFAR10.train_list[0][1] == CIFAR10.train_list[0][1]
    assert LocalCIFAR10.meta['md5'] == CIFAR10.meta['md5']


def test_local_cifar_never_downloads(tmp_path):
    with pytest.raises(ValueError, match='dataset.download must be False'):
        LocalCIFAR10(data_root=str(tmp_path), download=True)
    missing = f"LocalCIFAR10: dataset.data_root='{tmp_path}' has no complete"
    with pytest.raises(RuntimeError, match=re.escape(missing)):
        LocalCIFAR10(data_root=str(tmp_path), check_md5=False)


def test_local_cifar100_reads_fake_data(tmp_path):
    root = make_fake_cifar100(str(tmp_path), num_train=120, num_test=40)
    train = LocalCIFAR100(data_root=root, split='train', check_md5=False)
    test = LocalCIFAR100(data_root=root, split='test', check_md5=False)
    assert len(train) == 120 and len(test) == 40
    assert train.CLASSES == tuple(CIFAR100_CATEGORIES)
    written = _pickled(osp.join(root, 'cifar-100-python', 'train'))
    assert train.get_gt_labels().tolist() == written['fine_labels']
    assert max(written['fine_labels']) == 99
    assert written['coarse_labels'][0] == written['fine_labels'][0] // 5
    with pytest.raises(RuntimeError, match='LocalCIFAR100: .*cifar-100-py'):
        LocalCIFAR100(data_root=root)
