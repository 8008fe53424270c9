# A single ResNet-50 from mmpretrain's ImageNet-1k checkpoint on a folder of
# images at 224 x 224: the MixMo configs' like-for-like baseline (README.md).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    './_base_/datasets/imagefolder-224px_bs64.py',
    './_base_/schedules/sgd_24e.py',
    '../_base_/default_runtime.py',
]

# mmpretrain's resnet50_8xb32_in1k (configs/resnet/metafile.yml); new head
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'  # noqa
model = dict(
    type='VanillaClassifier',
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    head=dict(num_classes=10))
