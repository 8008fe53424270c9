# A single WRN-10-2 on a folder of images (see README.md).
_base_ = [
    '../_base_/models/wrn28-10_cifar10.py',
    '../_base_/datasets/imagefolder_bs64.py',
    '../_base_/schedules/imagefolder_4e.py',
    '../_base_/default_runtime.py',
]

model = dict(
    backbone=dict(depth=10, widen_factor=2),
    head=dict(in_channels=128),
    data_preprocessor={{_base_.data_preprocessor}})
