# Mixup, WRN-28-10, CIFAR-100: 83.44 top-1 (published).
_base_ = ['./vanilla_wrn28-10_1xb64_cifar100.py']

model = dict(
    head=dict(loss=dict(type='CrossEntropyLoss', use_soft=True)),
    train_cfg=dict(augments=dict(type='Mixup', alpha=1.0)))
