# Mixup WRN-28-10 on CIFAR-10 (single network, b = 1).
# Published by the authors: 97.07 top-1.
# Global batch: 1 GPU x 64 = 64 (782 iterations per epoch); lr 0.05.
_base_ = ['./vanilla_wrn28-10_1xb64_cifar10.py']

# mmpretrain's batch augmentation (alpha = 1, applied to every batch) with
# soft-target cross-entropy.
model = dict(
    head=dict(loss=dict(type='CrossEntropyLoss', use_soft=True)),
    train_cfg=dict(augments=dict(type='Mixup', alpha=1.0)))
