# Vanilla WRN-28-10 on CIFAR-100 (single network, b = 1).
# Published by the authors: 81.63 top-1, NLL_c 0.739.
# Global batch: 1 GPU x 64 = 64 (782 iterations per epoch); lr 0.05.
_base_ = [
    '../_base_/models/wrn28-10_cifar100.py',
    '../_base_/datasets/cifar100_bs64.py',
    '../_base_/schedules/cifar_300e.py',
    '../_base_/default_runtime.py',
]
