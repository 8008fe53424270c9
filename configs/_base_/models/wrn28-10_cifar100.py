# Vanilla WRN-28-10 on CIFAR (the paper's single-network baseline), as in the
# MixMo authors' code: no dropout, truncated He-normal init for the convs and
# the classifier. CIFAR-100 (K = 100); wrn28-10_cifar10.py adapts it to
# CIFAR-10.
model = dict(
    type='ImageClassifier',
    backbone=dict(type='WideResNet', depth=28, widen_factor=10),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=640,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='TruncKaiming', layer='Linear')))
