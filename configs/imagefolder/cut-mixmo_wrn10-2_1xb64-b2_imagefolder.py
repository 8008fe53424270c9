# Cut-MixMo WRN-10-2, b = 2, on a folder of images (see README.md).
_base_ = [
    '../_base_/models/mixmo_wrn28-10_cifar10.py',
    '../_base_/datasets/imagefolder_bs64.py',
    '../_base_/schedules/imagefolder_4e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(depth=10, widen_factor=2),
    mixing=dict(type='CutOrLinearMixing', prob=0.5),
    head=dict(in_channels=128),
    data_preprocessor={{_base_.data_preprocessor}})
custom_hooks = [dict(type='MixingProbHook', decay_fraction=1 / 12)]
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
optim_wrapper = dict(optimizer=dict(lr=0.05 / 2))
