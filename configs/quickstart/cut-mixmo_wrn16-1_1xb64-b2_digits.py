# Quickstart: Cut-MixMo WRN-16-1, b = 2, on scikit-learn's digits, ~1 min CPU.
_base_ = [
    '../_base_/models/mixmo_wrn28-10_cifar10.py',
    '../_base_/datasets/digits_bs64.py',
    '../_base_/schedules/digits_12e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(depth=16, widen_factor=1),
    mixing=dict(type='CutOrLinearMixing', prob=0.5),
    head=dict(in_channels=64),
    data_preprocessor={{_base_.data_preprocessor}})
custom_hooks = [dict(type='MixingProbHook', decay_fraction=1 / 12)]
train_dataloader = dict(
    batch_sampler=dict(type='BatchRepeatSampler', num_repeats=2))

default_hooks = dict(
    logger=dict(interval=10), checkpoint=dict(interval=-1, save_last=True))
randomness = dict(seed=0)
