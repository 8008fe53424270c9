import os
import os.path as osp
import shutil

import pytest
import torch
from mmpretrain.registry import DATASETS

from mmmixmo.datasets import TinyImageNet
from tests.utils.fake_tiny_imagenet import (FAKE_WNIDS, class_gray_value,
                                            make_fake_tiny_imagenet)

NAMES = ('school bus', 'goldfish', 'tabby')  # first synonyms, wnids.txt order
PIPELINE = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]


@pytest.fixture(scope='module')
def fake_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('tiny') / 'tiny-imagenet-200')
    return root, make_fake_tiny_imagenet(root)


@pytest.fixture
def fresh_root(tmp_path):
    """A private miniature that a test may break."""
    root = str(tmp_path / 'tiny-imagenet-200')
    make_fake_tiny_imagenet(root, num_train=1, num_val=1, num_test=1)
    return root


def test_train_split(fake_root):
    root, expected = fake_root
    ds = TinyImageNet(data_root=root, split='train')
    assert ds.wnids == FAKE_WNIDS
    assert ds.CLASSES == ds.metainfo['classes'] == NAMES
    assert expected['train_labels'] == [0] * 4 + [1] * 4 + [2] * 4
    assert ds.get_gt_labels().tolist() == expected['train_labels']
    # label 0 is the first wnid of wnids.txt although it sorts last; the
    # boxes files are not samples
    assert [ds.get_data_info(i)['img_path'] for i in (0, 5, 11)] == [
        osp.join(root, 'train', wnid, 'images', name)
        for wnid, name in (('n03000003', 'n03000003_0.JPEG'),
                           ('n01000001', 'n01000001_1.JPEG'),
                           ('n02000002', 'n02000002_3.JPEG'))
    ]


def test_val_split(fake_root):
    root, expected = fake_root
    ds = TinyImageNet(data_root=root, split='val', test_mode=True)
    assert ds.CLASSES == NAMES
    assert ds.get_gt_labels().tolist() == expected['val_labels'] == \
        [0, 1, 2, 0, 1, 2]
    assert [ds.get_data_info(i)['img_path'] for i in range(len(ds))] == [
        osp.join(root, 'val', 'images', f'val_{i}.JPEG') for i in range(6)
    ]


def test_test_split_is_unlabelled(fake_root):
    root, _ = fake_root
    ds = TinyImageNet(
        data_root=root, split='test', pipeline=PIPELINE, test_mode=True)
    assert len(ds) == 3
    assert ds.get_data_info(2) == dict(
        img_path=osp.join(root, 'test', 'images', 'test_2.JPEG'),
        sample_idx=2)
    out = ds[0]
    assert out['inputs'].shape == (3, 8, 8)
    assert 'gt_label' not in out['data_samples']


def test_class_names_without_words(tmp_path):
    root = str(tmp_path / 'tiny')
    make_fake_tiny_imagenet(root, num_train=1, num_val=1, with_words=False)
    ds = TinyImageNet(data_root=root, split='val')
    assert ds.CLASSES == FAKE_WNIDS
    assert ds.get_gt_labels().tolist() == [0, 1, 2]


def test_words_missing_a_wnid_falls_back_to_wnid(fresh_root):
    with open(osp.join(fresh_root, 'words.txt'), 'w') as f:
        f.write('n01000001\tgoldfish, Carassius auratus\n'
                'n03000003\tschool bus\n')
    ds = TinyImageNet(data_root=fresh_root, split='train')
    assert ds.CLASSES == ('school bus', 'goldfish', 'n02000002')


@pytest.mark.parametrize('split', ['train', 'val'])
def test_pipeline_loads_images_of_the_labelled_class(fake_root, split):
    root, expected = fake_root
    ds = TinyImageNet(
        data_root=root, split=split, pipeline=PIPELINE, test_mode=True)
    for i in range(len(ds)):
        out = ds[i]
        inputs, sample = out['inputs'], out['data_samples']
        assert inputs.shape == (3, 8, 8) and inputs.dtype == torch.uint8
        label = expected[f'{split}_labels'][i]
        assert sample.gt_label.tolist() == [label]
        # uniform gray images: the pixels identify the class of the file
        assert (inputs.float() - class_gray_value(label)).abs().max() <= 3


def test_registry_build_lazy_init_and_user_classes(fake_root):
    root, _ = fake_root
    ds = DATASETS.build(
        dict(type='TinyImageNet', data_root=root, split='train', indices=5))
    assert isinstance(ds, TinyImageNet)
    assert ds.get_gt_labels().tolist() == [0, 0, 0, 0, 1]
    lazy = TinyImageNet(data_root=root, split='val', lazy_init=True)
    assert not lazy._fully_initialized and lazy.CLASSES == NAMES
    lazy.full_init()
    assert len(lazy) == 6
    ds = TinyImageNet(
        data_root=root, split='val', metainfo=dict(classes=('a', 'b', 'c')))
    assert ds.CLASSES == ('a', 'b', 'c')
    assert ds.get_gt_labels().tolist() == [0, 1, 2, 0, 1, 2]
    with pytest.raises(ValueError, match=r'classes.*2 names.*3 wnids'):
        TinyImageNet(data_root=root, split='val', classes=('a', 'b'))


def test_bad_arguments(fake_root):
    root, _ = fake_root
    with pytest.raises(ValueError, match="dataset.split .*'valid'"):
        TinyImageNet(data_root=root, split='valid')
    with pytest.raises(TypeError, match='ann_file'):
        TinyImageNet(data_root=root, split='val', ann_file='x.txt')


def test_missing_data_root(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'wnids\.txt not found.*dataset\.data_root'):
        TinyImageNet(data_root=str(tmp_path / 'nope'), lazy_init=True)


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_missing_split_folder(fresh_root, split):
    shutil.rmtree(osp.join(fresh_root, split))
    with pytest.raises(FileNotFoundError, match=f'{split} not found'):
        TinyImageNet(data_root=fresh_root, split=split)
    # the metainfo does not need the split folder
    assert TinyImageNet(
        data_root=fresh_root, split=split, lazy_init=True).CLASSES == NAMES


@pytest.mark.parametrize('path', [
    ('train', 'n02000002'),
    ('val', 'val_annotations.txt'),
    ('val', 'images', 'val_1.JPEG'),
])
def test_missing_file_in_split(fresh_root, path):
    target = osp.join(fresh_root, *path)
    (shutil.rmtree if osp.isdir(target) else os.remove)(target)
    with pytest.raises(FileNotFoundError, match=path[-1]):
        TinyImageNet(data_root=fresh_root, split=path[0])


@pytest.mark.parametrize('line', [
    'val_1.JPEG\tn09999999\t0\t0\t7\t7',  # wnid not in wnids.txt
    'val_1.JPEG n01000001 0 0 7 7',  # not tab separated
])
def test_bad_val_annotation(fresh_root, line):
    with open(osp.join(fresh_root, 'val', 'val_annotations.txt'), 'a') as f:
        f.write(line + '\n')
    with pytest.raises(ValueError, match='line 4 .*wnid of wnids.txt'):
        TinyImageNet(data_root=fresh_root, split='val')
