# MIMO ResNet-50 from mmpretrain's ImageNet-1k checkpoint, b = 2, on a folder
# of images at 224 x 224 (see README.md).
_base_ = [
    '../_base_/models/mixmo_resnet50_in1k.py',
    './_base_/datasets/imagefolder-224px_bs64.py',
    './_base_/schedules/sgd_24e.py',
    '../_base_/default_runtime.py',
]

# mmpretrain's resnet50_8xb32_in1k (configs/resnet/metafile.yml): the backbone
# loads it, every member encoder starts as its conv1 / M; the heads are new
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/resnet/resnet50_8xb32_in1k_20210831-ea4938fc.pth'  # noqa
model = dict(
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    mixing=dict(alpha=None),
    head=dict(num_classes=10, r=1.0),
    data_preprocessor={{_base_.data_preprocessor}})
# b = 2: 32 images per step, each in 2 slots of every member (64 slots)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MemberViews', num_repeats=2, num_members=2,
             transforms={{_base_.train_augments}}),
        dict(type='PackInputs'),
    ]))
auto_scale_lr = dict(base_batch_size=32)  # images, as batch_size
optim_wrapper = dict(optimizer=dict(lr=0.005 / 2))
