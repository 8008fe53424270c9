import copy
import os.path as osp
import pickle

import numpy as np
import pytest
import torch
from mmpretrain.datasets import CIFAR10, CIFAR100
from mmpretrain.registry import DATASETS

from mmmixmo.datasets import CIFARC
from mmmixmo.datasets.cifar_c import BENCHMARK_CORRUPTIONS, EXTRA_CORRUPTIONS
from tests.utils.fake_cifar_c import make_fake_cifar_c

N = 4  # images per severity


@pytest.fixture(scope='module')
def root(tmp_path_factory):
    """A fake CIFAR-10-C with 3 corruption files of (20, 32, 32, 3)."""
    return make_fake_cifar_c(
        str(tmp_path_factory.mktemp('cifar10_c')),
        num_images=N,
        corruptions=('gaussian_noise', 'fog', 'saturate'))


def _file(root, name):
    return np.load(osp.join(root, f'{name}.npy'))


def test_fake_archive_has_the_published_layout(root):
    labels = _file(root, 'labels')
    assert labels.shape == (5 * N, ) and labels.dtype == np.uint8
    # the clean test labels, repeated once per severity
    np.testing.assert_array_equal(labels, np.tile(labels[:N], 5))
    images = _file(root, 'saturate')
    assert images.shape == (5 * N, 32, 32, 3) and images.dtype == np.uint8


def test_samples_are_corruption_then_severity_major(root):
    names = ['fog', 'gaussian_noise']
    dataset = CIFARC(root, corruptions=names)
    assert len(dataset) == 2 * 5 * N
    labels = _file(root, 'labels')
    images = {name: _file(root, name) for name in names}
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        corruption = names[i // (5 * N)]
        severity = i % (5 * N) // N + 1
        row = (severity - 1) * N + i % N
        assert (info['corruption'], info['severity'], info['img_index'],
                info['gt_label'], info['sample_idx']) == (corruption, severity,
                                                          row, labels[row], i)
        assert info['img'].dtype == np.uint8
        np.testing.assert_array_equal(info['img'], images[corruption][row])
    # sample 21: gaussian_noise, severity 1, row 1
    assert dataset.get_data_info(21)['img_index'] == 1


def test_severities_subset_in_given_order(root):
    dataset = CIFARC(root, corruptions=['saturate'], severities=(3, 1))
    rows = [dataset.get_data_info(i)['img_index'] for i in range(len(dataset))]
    assert rows == [8, 9, 10, 11, 0, 1, 2, 3]
    assert [dataset.get_data_info(i)['severity'] for i in (0, N)] == [3, 1]
    single = CIFARC(root, corruptions=['fog'], severities=5)
    assert single.severities == (5, )
    assert [single.get_data_info(i)['img_index']
            for i in range(N)] == [16, 17, 18, 19]


def test_all_is_the_15_benchmark_corruptions(tmp_path):
    root = make_fake_cifar_c(str(tmp_path), num_images=N)
    dataset = CIFARC(root)
    assert dataset.corruptions == BENCHMARK_CORRUPTIONS
    assert len(BENCHMARK_CORRUPTIONS) == 15 and len(dataset) == 15 * 5 * N
    assert dataset.get_data_info(5 * N)['corruption'] == 'shot_noise'
    assert dataset.get_data_info(len(dataset) - 1)['corruption'] == \
        'jpeg_compression'
    # the 4 extra files were not written: a missing file fails at build
    assert set(EXTRA_CORRUPTIONS).isdisjoint(BENCHMARK_CORRUPTIONS)
    with pytest.raises(FileNotFoundError, match='speckle_noise.npy not found'):
        CIFARC(root, corruptions='extra')


def test_classes_follow_cifar(root, tmp_path):
    c10 = CIFARC(root, corruptions=['fog'])
    assert c10.CLASSES == tuple(CIFAR10.METAINFO['classes'])
    assert c10.CLASSES[0] == 'airplane'
    # 10-class labels are valid CIFAR-100 labels too
    c100 = CIFARC(root, cifar='cifar100', corruptions=['fog'])
    assert c100.CLASSES == tuple(CIFAR100.METAINFO['classes'])
    names = tuple(f'c{k}' for k in range(10))
    assert CIFARC(
        root, corruptions=['fog'], metainfo=dict(classes=names)).CLASSES \
        == names
    assert CIFARC(root, corruptions=['fog'], classes=names).CLASSES == names
    with pytest.raises(ValueError, match='has 3 names but dataset.cifar'):
        CIFARC(root, corruptions=['fog'], classes=('a', 'b', 'c'))
    with pytest.raises(ValueError, match='dataset.cifar'):
        CIFARC(root, cifar='cifar1000')
    # CIFAR-100 labels are out of range for cifar='cifar10'
    root100 = make_fake_cifar_c(
        str(tmp_path), num_images=100, corruptions=['fog'], num_classes=100)
    assert len(CIFARC(root100, cifar='cifar100', corruptions=['fog'])) == 500
    with pytest.raises(
            ValueError,
            match=r'labels in \[0, 99\], outside '
            r"\[0, 10\) for dataset.cifar='cifar10'"):
        CIFARC(root100, cifar='cifar10', corruptions=['fog'])


def test_pipeline_packs_corruption_and_severity(root):
    dataset = DATASETS.build(
        dict(
            type='CIFARC',
            data_root=root,
            corruptions=['gaussian_noise', 'fog'],
            pipeline=[
                dict(
                    type='PackInputs',
                    meta_keys=('sample_idx', 'corruption', 'severity'))
            ]))
    out = dataset[27]  # fog, severity 2, row 7
    sample = out['data_samples']
    assert sample.corruption == 'fog' and sample.severity == 2
    assert sample.gt_label.tolist() == [int(_file(root, 'labels')[7])]
    # CHW tensor of the HWC RGB image, no conversion
    torch.testing.assert_close(
        out['inputs'],
        torch.from_numpy(_file(root, 'fog')[7]).permute(2, 0, 1))


def test_files_are_memory_mapped_and_copies_remap(root):
    dataset = CIFARC(root, corruptions=['fog', 'saturate'])
    assert set(dataset._arrays) == {'fog', 'saturate'}
    assert all(
        isinstance(a, np.memmap) and a.mode == 'r'
        for a in dataset._arrays.values())
    # copies never carry (hence never read) the mapped files; they map them
    # again on first use and give the same images
    for copied in (copy.deepcopy(dataset), pickle.loads(pickle.dumps(dataset)),
                   dataset.get_subset([25, 3])):
        assert len(copied._arrays) == 0
        info = copied.get_data_info(0)
        assert isinstance(copied._arrays[info['corruption']], np.memmap)
    np.testing.assert_array_equal(
        dataset.get_subset([25, 3]).get_data_info(0)['img'],
        dataset.get_data_info(25)['img'])
    # the image is a writable copy, not a view of the read-only map
    img = dataset.get_data_info(0)['img']
    assert not isinstance(img, np.memmap) and img.flags.writeable


def test_indices_and_lazy_init(root):
    dataset = CIFARC(root, corruptions=['fog'], indices=6)
    assert len(dataset) == 6
    assert dataset.get_data_info(5)['severity'] == 2
    lazy = CIFARC(root, corruptions=['fog'], lazy_init=True)
    assert not lazy._fully_initialized
    assert lazy.CLASSES[1] == 'automobile'
    assert len(lazy) == 5 * N


@pytest.mark.parametrize('corruptions',
                         ['gaussian', [], ['fog', 'fgo'], ['fog', 'fog']])
def test_bad_corruptions(root, corruptions):
    with pytest.raises(ValueError, match='dataset.corruptions of CIFARC'):
        CIFARC(root, corruptions=corruptions)


@pytest.mark.parametrize('severities', [0, 6, (1, 1), (), True, (2.0, )])
def test_bad_severities(root, severities):
    with pytest.raises(ValueError, match='dataset.severities of CIFARC'):
        CIFARC(root, corruptions=['fog'], severities=severities)


def test_missing_files_and_layout_arguments(root, tmp_path):
    with pytest.raises(
            FileNotFoundError,
            match=r"labels.npy not found \(dataset.data_root="):
        CIFARC(str(tmp_path), corruptions=['fog'])
    with pytest.raises(FileNotFoundError, match='snow.npy not found'):
        CIFARC(root, corruptions=['fog', 'snow'])
    for key in ('ann_file', 'data_prefix'):
        with pytest.raises(TypeError, match=key):
            CIFARC(root, corruptions=['fog'], **{key: 'x'})
