# CutMix, WRN-28-10, CIFAR-10: 97.23 top-1 (published).
_base_ = ['./vanilla_wrn28-10_1xb64_cifar10.py']

model = dict(
    head=dict(loss=dict(type='CrossEntropyLoss', use_soft=True)),
    train_cfg=dict(augments=dict(type='CutMix', alpha=1.0)))
