import copy
import os.path as osp
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import DefaultScope, init_default_scope
from mmengine.runner import Runner
from mmpretrain.datasets.categories import CIFAR10_CATEGORIES
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample
from scipy.io import loadmat

from mmmixmo.datasets import SVHN, LocalCIFAR10, LocalCIFAR100, OODDataset
from mmmixmo.datasets.ood_dataset import OOD_LABEL
from tests.utils.fake_cifar import make_fake_cifar100
from tests.utils.fake_svhn import make_fake_svhn

NUM_IN, NUM_OOD = 32, 12  # the fake CIFAR-10 and SVHN test sets
PACK = dict(type='PackInputs')


@pytest.fixture(scope='module')
def svhn_root(tmp_path_factory):
    return make_fake_svhn(
        str(tmp_path_factory.mktemp('svhn')), num_test=NUM_OOD, num_train=1)


def _cifar(root, **kwargs):
    return dict(
        type='LocalCIFAR10',
        data_root=root,
        split='test',
        check_md5=False,
        **kwargs)


def _svhn(root, **kwargs):
    return dict(type='SVHN', data_root=root, **kwargs)


def _svhn_test(root):
    mat = loadmat(osp.join(root, 'test_32x32.mat'))
    return mat['X'], mat['y'].ravel() % 10


def test_in_distribution_first_then_ood(fake_cifar10_root, svhn_root):
    dataset = OODDataset(
        _cifar(fake_cifar10_root, pipeline=[PACK]), _svhn(svhn_root))
    cifar = LocalCIFAR10(fake_cifar10_root, split='test', check_md5=False)
    svhn_images, _ = _svhn_test(svhn_root)
    assert isinstance(dataset.in_dist, LocalCIFAR10)
    assert isinstance(dataset.ood, SVHN)
    assert len(dataset) == NUM_IN + NUM_OOD == 44
    assert (dataset.num_in_dist, dataset.num_ood) == (NUM_IN, NUM_OOD)
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        item = dataset[i]
        sample = item['data_samples']
        assert info['sample_idx'] == sample.sample_idx == i
        assert info['is_ood'] is sample.is_ood is (i >= NUM_IN)
        if i < NUM_IN:
            expected_img = cifar.get_data_info(i)['img']
            expected_label = cifar.get_data_info(i)['gt_label']
        else:
            expected_img = svhn_images[:, :, :, i - NUM_IN]
            expected_label = OOD_LABEL
        np.testing.assert_array_equal(info['img'], expected_img)
        torch.testing.assert_close(
            item['inputs'],
            torch.from_numpy(expected_img).permute(2, 0, 1))
        assert info['gt_label'] == expected_label
        assert sample.gt_label.tolist() == [expected_label]
    assert OOD_LABEL == -1
    # the packed labels of the in-distribution part are CIFAR's, untouched
    labels = [dataset[i]['data_samples'].gt_label.item()
              for i in range(NUM_IN)]
    assert labels == cifar.get_gt_labels().tolist()
    # negative indices count from the end, like a list
    assert dataset[-1]['data_samples'].sample_idx == 43
    assert dataset.get_data_info(-NUM_OOD)['sample_idx'] == NUM_IN
    for idx in (44, -45):
        with pytest.raises(IndexError, match=f'index {idx} out of range'):
            dataset[idx]


def test_metainfo_is_the_in_distribution_one(fake_cifar10_root, svhn_root):
    dataset = OODDataset(_cifar(fake_cifar10_root), _svhn(svhn_root))
    assert dataset.metainfo['classes'] == tuple(CIFAR10_CATEGORIES)
    assert dataset.metainfo == dataset.in_dist.metainfo
    assert dataset.ood.metainfo['classes'] == tuple('0123456789')
    # a copy: callers cannot change it
    dataset.metainfo['classes'] = ('x', )
    assert dataset.metainfo['classes'][0] == 'airplane'
    assert repr(dataset) == ('OODDataset(LocalCIFAR10 (in-distribution) + '
                             'SVHN (OOD): 32 + 12)')


def test_ood_gets_the_in_distribution_pipeline(fake_cifar10_root, svhn_root):
    pipeline = [
        dict(type='CenterCrop', crop_size=24),
        dict(type='PackInputs', meta_keys=('sample_idx', 'img_shape'))
    ]
    in_dist = _cifar(fake_cifar10_root, pipeline=pipeline)
    ood = _svhn(svhn_root)
    in_dist_before, ood_before = copy.deepcopy(in_dist), copy.deepcopy(ood)
    dataset = OODDataset(in_dist, ood)
    assert in_dist == in_dist_before and ood == ood_before  # not modified
    svhn_images, _ = _svhn_test(svhn_root)
    item = dataset[NUM_IN + 5]
    # the centre 24 x 24 crop (rows/columns 4..27) of the SVHN image
    torch.testing.assert_close(
        item['inputs'],
        torch.from_numpy(svhn_images[4:28, 4:28, :, 5]).permute(2, 0, 1))
    assert item['data_samples'].img_shape == (24, 24)
    assert item['data_samples'].is_ood is True
    assert dataset[0]['inputs'].shape == (3, 24, 24)
    assert dataset.ood.pipeline is not dataset.in_dist.pipeline

    # an OOD config with its own pipeline keeps it
    own = OODDataset(in_dist, _svhn(svhn_root, pipeline=[PACK]))
    assert own[0]['inputs'].shape == (3, 24, 24)
    assert own[NUM_IN]['inputs'].shape == (3, 32, 32)
    # neither has one: both use their class's default (here, none)
    bare = OODDataset(_cifar(fake_cifar10_root), _svhn(svhn_root))
    assert sorted(bare[NUM_IN]) == ['gt_label', 'img', 'is_ood', 'sample_idx']


def test_is_ood_survives_collate_and_preprocessor(fake_cifar10_root,
                                                  svhn_root):
    dataset = OODDataset(
        _cifar(fake_cifar10_root, pipeline=[PACK]), _svhn(svhn_root))
    items = [dataset[i] for i in (30, 31, 32, 33)]
    for collate in (pseudo_collate, default_collate):
        batch = collate(items)
        assert [s.is_ood for s in batch['data_samples']] == [
            False, False, True, True
        ]
    # as the test loop gives the batch to the model and the model to the
    # metrics (DataSample.to_dict)
    preprocessor = MODELS.build(
        dict(
            type='ClsDataPreprocessor',
            num_classes=10,
            mean=[125.307, 122.961, 113.8575],
            std=[51.5865, 50.847, 51.255]))
    out = preprocessor(batch)
    assert out['inputs'].shape == (4, 3, 32, 32)
    samples = [s.to_dict() for s in out['data_samples']]
    assert [s['is_ood'] for s in samples] == [False, False, True, True]
    assert [s['sample_idx'] for s in samples] == [30, 31, 32, 33]
    assert [s['gt_label'].item() for s in samples[2:]] == [-1, -1]
    assert samples[0]['gt_label'].item() == \
        dataset.in_dist.get_data_info(30)['gt_label']


def test_runner_dataloader_gives_every_sample_once_in_order(
        fake_cifar10_root, svhn_root):
    init_default_scope('mmpretrain')
    loader = Runner.build_dataloader(
        dict(
            batch_size=8,
            num_workers=1,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='OODDataset',
                in_dist=_cifar(fake_cifar10_root, pipeline=[PACK]),
                ood=_svhn(svhn_root),
                lazy_init=True)),
        seed=0)
    assert isinstance(loader.dataset, OODDataset)
    assert loader.dataset._fully_initialized  # the Runner calls full_init
    batches = list(loader)
    assert len(batches) == len(loader) == 6  # ceil(44 / 8)
    samples = [s for batch in batches for s in batch['data_samples']]
    assert [s.sample_idx for s in samples] == list(range(44))
    assert [s.is_ood for s in samples] == [False] * NUM_IN + [True] * NUM_OOD
    cifar = LocalCIFAR10(fake_cifar10_root, split='test', check_md5=False)
    assert [s.gt_label.item() for s in samples] == \
        cifar.get_gt_labels().tolist() + [-1] * NUM_OOD

    # a vanilla model's predictions, as the test loop hands them to the
    # metrics (Evaluator.process takes DataSample.to_dict())
    model = MODELS.build(
        dict(
            type='ImageClassifier',
            data_preprocessor=dict(
                num_classes=10, mean=[125.3, 123.0, 113.9],
                std=[51.6, 50.8, 51.3]),
            backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=8),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=64)))
    outputs = model.test_step(batches[3]) + model.test_step(batches[4])
    results = [out.to_dict() for out in outputs]
    assert [r['sample_idx'] for r in results] == list(range(24, 40))
    assert [r['is_ood'] for r in results] == [False] * 8 + [True] * 8
    assert [r['gt_label'].item() for r in results[8:]] == [-1] * 8
    assert all(r['pred_score'].shape == (10, ) for r in results)


def test_cifar10_vs_cifar100(fake_cifar10_root, tmp_path):
    root = make_fake_cifar100(str(tmp_path), num_train=1, num_test=20)
    dataset = DATASETS.build(
        dict(
            type='OODDataset',
            in_dist=_cifar(fake_cifar10_root, pipeline=[PACK]),
            ood=dict(
                type='LocalCIFAR100',
                data_root=root,
                split='test',
                check_md5=False)))
    assert isinstance(dataset.ood, LocalCIFAR100) and len(dataset) == 52
    assert dataset.metainfo['classes'][0] == 'airplane'
    cifar100 = LocalCIFAR100(root, split='test', check_md5=False)
    assert cifar100.get_gt_labels().max() > 9  # real CIFAR-100 labels ...
    ood = [dataset[i]['data_samples'] for i in range(NUM_IN, 52)]
    assert all(s.gt_label.tolist() == [-1] and s.is_ood for s in ood)
    torch.testing.assert_close(
        dataset[NUM_IN + 19]['inputs'],
        torch.from_numpy(cifar100.get_data_info(19)['img']).permute(2, 0, 1))


def test_test_time_aug_views_are_all_marked(fake_cifar10_root, svhn_root):
    init_default_scope('mmpretrain')  # TestTimeAug builds from the scope
    flips = [dict(type='RandomFlip', prob=p) for p in (1., 0.)]
    tta = [dict(type='TestTimeAug', transforms=[flips, [PACK]])]
    dataset = OODDataset(
        _cifar(fake_cifar10_root, pipeline=tta), _svhn(svhn_root))
    for idx, is_ood in ((0, False), (NUM_IN + 1, True)):
        samples = dataset[idx]['data_samples']
        assert len(samples) == 2
        assert all(isinstance(s, DataSample) for s in samples)
        assert [s.is_ood for s in samples] == [is_ood, is_ood]
    inputs = dataset[NUM_IN + 1]['inputs']
    torch.testing.assert_close(inputs[0], inputs[1].flip(-1))


def test_lazy_init(fake_cifar10_root, tmp_path):
    dataset = OODDataset(
        _cifar(fake_cifar10_root, lazy_init=True),
        _svhn(str(tmp_path), lazy_init=True),
        lazy_init=True)
    assert not dataset._fully_initialized
    assert not dataset.in_dist._fully_initialized
    assert not dataset.ood._fully_initialized
    assert dataset.metainfo['classes'][1] == 'automobile'
    assert repr(dataset).endswith('not fully initialized)')
    # the SVHN file is missing: noticed at full_init, as the Runner calls it
    with pytest.raises(FileNotFoundError, match='test_32x32.mat not found'):
        dataset.full_init()
    make_fake_svhn(str(tmp_path), num_test=3, num_train=1)
    assert len(dataset) == NUM_IN + 3  # __len__ initializes
    assert dataset._fully_initialized and dataset.ood._fully_initialized
    # without lazy_init, a missing file fails at build
    with pytest.raises(FileNotFoundError, match='test_32x32.mat not found'):
        OODDataset(
            _cifar(fake_cifar10_root), _svhn(str(tmp_path / 'missing')))


def test_builds_without_a_default_scope(fake_cifar10_root, svhn_root,
                                        monkeypatch):
    monkeypatch.setattr(DefaultScope, '_instance_dict', OrderedDict())
    assert DefaultScope.get_current_instance() is None
    dataset = DATASETS.build(
        dict(
            type='OODDataset',
            in_dist=_cifar(fake_cifar10_root),
            ood=_svhn(svhn_root)))
    assert isinstance(dataset, OODDataset) and len(dataset) == 44


@pytest.mark.parametrize('key', ['in_dist', 'ood'])
def test_configs_must_be_dicts(fake_cifar10_root, svhn_root, key):
    configs = dict(in_dist=_cifar(fake_cifar10_root), ood=_svhn(svhn_root))
    configs[key] = DATASETS.build(configs[key])  # a dataset, not a config
    built = type(configs[key]).__name__
    with pytest.raises(
            TypeError,
            match=f'dataset.{key} of OODDataset must be a dataset config '
            rf'\(dict\), got {built}'):
        OODDataset(**configs)
