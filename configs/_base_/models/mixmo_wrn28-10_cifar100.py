# Linear-MixMo WRN-28-10 on CIFAR-100, M = 2 (configs/mixmo/README.md).
model = dict(
    type='MixMoClassifier',
    num_members=2,
    backbone=dict(type='WideResNet', depth=28, widen_factor=10),
    mixing=dict(type='LinearMixing', alpha=2.0),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiHeadClsHead',
        num_classes=100,
        in_channels=640,
        r=3.0,
        loss=dict(type='CrossEntropyLoss', use_soft=True),
        init_cfg=dict(type='TruncKaiming', layer='Linear')),
    data_preprocessor=dict(
        type='MixMoDataPreprocessor',
        num_classes=100,
        mean=[129.304, 124.070, 112.434],
        std=[68.170, 65.392, 70.418],
        to_rgb=False))
