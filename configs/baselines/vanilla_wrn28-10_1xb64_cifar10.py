# Vanilla WRN-28-10 on CIFAR-10 (single network, b = 1).
# Published by the authors: 96.34 top-1.
# Global batch: 1 GPU x 64 = 64 (782 iterations per epoch); lr 0.05.
_base_ = [
    '../_base_/models/wrn28-10_cifar10.py',
    '../_base_/datasets/cifar10_bs64.py',
    '../_base_/schedules/cifar_300e.py',
    '../_base_/default_runtime.py',
]
