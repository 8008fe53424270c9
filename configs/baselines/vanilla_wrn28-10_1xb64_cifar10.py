# Vanilla WRN-28-10, CIFAR-10: 96.34 top-1 (published).
_base_ = [
    '../_base_/models/wrn28-10_cifar10.py',
    '../_base_/datasets/cifar10_bs64.py',
    '../_base_/schedules/cifar_300e.py',
    '../_base_/default_runtime.py',
]
