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
train_dataloader = dict(
    batch_sampler=dict(type='BatchRepeatSampler', num_repeats=2))
optim_wrapper = dict(optimizer=dict(lr=0.05 / 2))
