# Vanilla WRN-28-10, CIFAR-100: 81.63 top-1 (published).
_base_ = [
    '../_base_/models/wrn28-10_cifar100.py',
    '../_base_/datasets/cifar100_bs64.py',
    '../_base_/schedules/cifar_300e.py',
    '../_base_/default_runtime.py',
]
