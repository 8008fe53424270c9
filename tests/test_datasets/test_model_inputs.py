import os.path as osp

import pytest
from mmcv.transforms import LoadImageFromFile
from mmengine.config import Config

from mmmixmo.datasets.model_inputs import (channel_order, innermost_dataset,
                                           input_size, pipeline_datasets,
                                           pipeline_img_size, single_view,
                                           transform_index)
from tests.conftest import REPO_ROOT


def _config(*parts: str) -> Config:
    return Config.fromfile(osp.join(REPO_ROOT, 'configs', *parts))


@pytest.mark.parametrize('parts, size, order', [
    # arrays at their own size: the train crop
    (('quickstart', 'cut-mixmo_wrn16-1_1xb64-b2_digits.py'), (32, 32),
     'rgb'),
    (('mixmo', 'cut-mixmo_wrn28-10_1xb64-b4_cifar100.py'), (32, 32), 'rgb'),
    (('imagefolder', 'cut-mixmo_wrn10-2_1xb64-b2_imagefolder.py'), (32, 32),
     'bgr'),
    (('mixmo', 'cut-mixmo_preact-resnet18-w1_1xb100-b4_tiny-imagenet.py'),
     (64, 64), 'bgr'),
    # ResizeEdge(256) then CenterCrop(224): the last one wins
    (('mixmo', 'cut-mixmo_resnet50_8xb64-b2_in1k.py'), (224, 224), 'bgr'),
    # an OODDataset: its in-distribution part
    (('ood', 'cut-mixmo_wrn16-1_1xb64-b2_digits_vs-imagefolder.py'),
     (32, 32), 'rgb'),
])
def test_the_configs_inputs(parts, size, order):
    cfg = _config(*parts)
    assert input_size(cfg) == size
    assert channel_order(cfg) == order


def test_sizes_inside_wrappers_and_mmcv_scales():
    pipeline = [
        dict(type='Resize', scale=(40, 30)),
        dict(type='MemberViews', transforms=[
            dict(type='RandomChoice', transforms=[
                [dict(type='RandomResizedCrop', scale=(24, 20))],
                [dict(type='RandomFlip', prob=0.5)]]),
            dict(type='RandomFlip', prob=0.5)]),
        dict(type='PackInputs'),
    ]
    # mmcv's scale is (w, h)
    assert pipeline_img_size(dict(dataset=dict(pipeline=pipeline))) == (20,
                                                                        24)
    assert pipeline_img_size(dict(pipeline=[dict(type='PackInputs')])) is None
    cfg = Config(dict(
        train_dataloader=dict(dataset=dict(pipeline=[])),
        test_dataloader=dict(dataset=dict(pipeline=[
            dict(type='mmpretrain.LoadImageFromFile')]))))
    with pytest.raises(ValueError, match=r'^no crop or resize in '
                       r'test_dataloader\.dataset\.pipeline nor in '
                       r'train_dataloader\.dataset\.pipeline'):
        input_size(cfg)
    # the train pipeline decides, with or without the scope, or as a class
    assert channel_order(cfg) == 'rgb'
    cfg.train_dataloader.dataset.pipeline = [dict(type=LoadImageFromFile)]
    assert channel_order(cfg) == 'bgr'
    cfg.train_dataloader.dataset.pipeline = []
    cfg.train_dataloader.dataset = cfg.test_dataloader.dataset
    assert channel_order(cfg) == 'bgr'


def test_pipeline_walk_of_wrappers_ood_and_member_views():
    views = dict(type='mmpretrain.MemberViews', num_repeats=2,
                 transforms=[dict(type='RandomCrop', crop_size=32),
                             dict(type='RandomFlip', prob=0.5)])
    in_dist = dict(type='CIFAR10', pipeline=[dict(type='LoadImageFromFile'),
                                             views, dict(type='PackInputs')])
    ood = dict(type='SVHN', pipeline=[dict(type='PackInputs')])
    wrapped = dict(type='RepeatDataset', times=2, dataset=dict(
        type='OODDataset', in_dist=in_dist, ood=ood))
    assert pipeline_datasets(wrapped) == [in_dist, ood]
    assert innermost_dataset(wrapped) is in_dist
    # an OOD part without its own pipeline takes the in-distribution one
    assert pipeline_datasets(dict(type='OODDataset', in_dist=in_dist,
                                  ood=dict(type='SVHN'))) == [in_dist]
    with pytest.raises(ValueError, match="type='ConcatDataset'"):
        innermost_dataset(dict(type='ConcatDataset', datasets=[in_dist]))
    assert transform_index(in_dist['pipeline'], 'MemberViews') == 1
    assert transform_index(in_dist['pipeline'], 'Resize') is None
    assert [t['type'] for t in single_view(in_dist['pipeline'])] == [
        'LoadImageFromFile', 'RandomCrop', 'RandomFlip', 'PackInputs']
