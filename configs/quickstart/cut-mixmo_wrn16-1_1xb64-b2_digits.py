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
# b = 2: 32 images per step, each in 2 slots of every member (64 slots)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(pipeline=[
        dict(type='MemberViews', num_repeats=2, num_members=2,
             transforms={{_base_.train_augments}}),
        dict(type='PackInputs'),
    ]))
auto_scale_lr = dict(base_batch_size=32)  # images, as batch_size

# a checkpoint per epoch, the last 3 kept: a killed run resumes (--resume)
# from its last epoch, bit-identical to an uninterrupted run
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=3, save_last=True))
randomness = dict(seed=0)
