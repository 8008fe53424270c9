# Quickstart baseline: a single WRN-16-1 on scikit-learn's digits, ~40 s CPU.
_base_ = [
    '../_base_/models/wrn28-10_cifar10.py',
    '../_base_/datasets/digits_bs64.py',
    '../_base_/schedules/digits_12e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(depth=16, widen_factor=1), head=dict(in_channels=64))

# a checkpoint per epoch, the last 3 kept: a killed run resumes (--resume)
# from its last epoch, bit-identical to an uninterrupted run
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=1, max_keep_ckpts=3, save_last=True))
randomness = dict(seed=0)
