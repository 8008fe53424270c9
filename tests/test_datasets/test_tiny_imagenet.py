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
    expected = make_fake_tiny_imagenet(root)
    return root, expected


@pytest.fixture
def fresh_root(tmp_path):
    """A private miniature that a test may break."""
    root = str(tmp_path / 'tiny-imagenet-200')
    make_fake_tiny_imagenet(root, num_train=1, num_val=1, num_test=1)
    return root


def test_train_split(fake_root):
    root, expected = fake_root
    ds = TinyImageNet(data_root=root, split='train')
    assert len(ds) == 12
    assert ds.wnids == FAKE_WNIDS
    assert ds.CLASSES == NAMES
    assert ds.metainfo['classes'] == NAMES
    assert expected['train_labels'] == [0] * 4 + [1] * 4 + [2] * 4
    assert ds.get_gt_labels().tolist() == expected['train_labels']
    # Label 0 is the first wnid of wnids.txt although it sorts last.
    assert ds.get_data_info(0)['img_path'] == osp.join(
        root, 'train', 'n03000003', 'images', 'n03000003_0.JPEG')
    assert ds.get_data_info(5)['img_path'] == osp.join(
        root, 'train', 'n01000001', 'images', 'n01000001_1.JPEG')
    # Boxes files are not samples.
    assert all(
        ds.get_data_info(i)['img_path'].endswith('.JPEG')
        for i in range(len(ds)))


def test_val_split(fake_root):
    root, expected = fake_root
    ds = TinyImageNet(data_root=root, split='val', test_mode=True)
    assert len(ds) == 6
    assert ds.CLASSES == NAMES
    assert ds.get_gt_labels().tolist() == [0, 1, 2, 0, 1, 2]
    assert ds.get_gt_labels().tolist() == expected['val_labels']
    for i in range(6):
        assert ds.get_data_info(i)['img_path'] == osp.join(
            root, 'val', 'images', f'val_{i}.JPEG')
    assert ds.get_cat_ids(4) == [1]


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
        assert inputs.shape == (3, 8, 8)
        assert inputs.dtype == torch.uint8
        label = expected[f'{split}_labels'][i]
        assert sample.gt_label.tolist() == [label]
        assert sample.img_shape == (8, 8)
        # Uniform gray images: the pixels identify the class of the file.
        assert (inputs.float() - class_gray_value(label)).abs().max() <= 3


def test_registry_build_and_passthrough_kwargs(fake_root):
    root, _ = fake_root
    ds = DATASETS.build(
        dict(type='TinyImageNet', data_root=root, split='train', indices=5))
    assert isinstance(ds, TinyImageNet)
    assert len(ds) == 5
    assert ds.get_gt_labels().tolist() == [0, 0, 0, 0, 1]


def test_lazy_init_has_metainfo(fake_root):
    root, _ = fake_root
    ds = TinyImageNet(data_root=root, split='val', lazy_init=True)
    assert not ds._fully_initialized
    assert ds.CLASSES == NAMES
    ds.full_init()
    assert len(ds) == 6


def test_user_classes(fake_root):
    root, _ = fake_root
    ds = TinyImageNet(
        data_root=root, split='val', metainfo=dict(classes=('a', 'b', 'c')))
    assert ds.CLASSES == ('a', 'b', 'c')
    assert ds.get_gt_labels().tolist() == [0, 1, 2, 0, 1, 2]
    with pytest.raises(ValueError, match=r'metainfo\.classes.*2 names.*3'):
        TinyImageNet(data_root=root, split='val', classes=('a', 'b'))


def test_bad_split(fake_root):
    root, _ = fake_root
    with pytest.raises(ValueError, match="split must be one of.*'valid'"):
        TinyImageNet(data_root=root, split='valid')


def test_layout_args_rejected(fake_root):
    root, _ = fake_root
    with pytest.raises(ValueError, match='ann_file is not supported'):
        TinyImageNet(data_root=root, split='val', ann_file='x.txt')


def test_missing_wnids(fresh_root):
    os.remove(osp.join(fresh_root, 'wnids.txt'))
    with pytest.raises(FileNotFoundError, match=r'wnids\.txt not found'):
        TinyImageNet(data_root=fresh_root, split='train', lazy_init=True)


def test_duplicate_wnid(fresh_root):
    with open(osp.join(fresh_root, 'wnids.txt'), 'a') as f:
        f.write('n01000001\n')
    with pytest.raises(ValueError, match=r"twice: \['n01000001'\]"):
        TinyImageNet(data_root=fresh_root, split='train')


@pytest.mark.parametrize('split', ['train', 'val', 'test'])
def test_missing_split_folder(fresh_root, split):
    shutil.rmtree(osp.join(fresh_root, split))
    with pytest.raises(FileNotFoundError, match='split folder .* not found'):
        TinyImageNet(data_root=fresh_root, split=split)
    # Metainfo only does not need the split folder.
    assert TinyImageNet(
        data_root=fresh_root, split=split, lazy_init=True).CLASSES == NAMES


def test_missing_train_class_folder(fresh_root):
    shutil.rmtree(osp.join(fresh_root, 'train', 'n02000002'))
    with pytest.raises(FileNotFoundError,
                       match="n02000002.*not found.*line 3 of wnids"):
        TinyImageNet(data_root=fresh_root, split='train')


def test_empty_train_class_folder(fresh_root):
    os.remove(
        osp.join(fresh_root, 'train', 'n01000001', 'images',
                 'n01000001_0.JPEG'))
    with pytest.raises(ValueError, match='no image .*n01000001'):
        TinyImageNet(data_root=fresh_root, split='train')


def test_val_wnid_not_in_wnids(fresh_root):
    with open(osp.join(fresh_root, 'val', 'val_annotations.txt'), 'a') as f:
        f.write('val_1.JPEG\tn09999999\t0\t0\t7\t7\n')
    with pytest.raises(ValueError,
                       match="line 4 .*'n09999999', which is not in wnids"):
        TinyImageNet(data_root=fresh_root, split='val')


def test_val_image_missing(fresh_root):
    os.remove(osp.join(fresh_root, 'val', 'images', 'val_1.JPEG'))
    with pytest.raises(FileNotFoundError,
                       match=r"1 image\(s\) listed .*\['val_1\.JPEG'\]"):
        TinyImageNet(data_root=fresh_root, split='val')


def test_val_annotations_missing(fresh_root):
    os.remove(osp.join(fresh_root, 'val', 'val_annotations.txt'))
    with pytest.raises(FileNotFoundError,
                       match=r'val_annotations\.txt not found'):
        TinyImageNet(data_root=fresh_root, split='val')


def test_val_annotations_not_tab_separated(fresh_root):
    with open(osp.join(fresh_root, 'val', 'val_annotations.txt'), 'a') as f:
        f.write('val_1.JPEG n01000001 0 0 7 7\n')
    with pytest.raises(ValueError, match='line 4 .*tab separated'):
        TinyImageNet(data_root=fresh_root, split='val')
