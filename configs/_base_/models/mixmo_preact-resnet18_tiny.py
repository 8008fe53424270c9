# Linear-MixMo PreActResNet-18-w1 on Tiny ImageNet, M = 2.
model = dict(
    type='MixMoClassifier',
    num_members=2,
    backbone=dict(
        type='PreActResNet', depth=18, width=1, stem_stride=2,
        stem_channels=64),
    mixing=dict(type='LinearMixing', alpha=2.0),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiHeadClsHead',
        num_classes=200,
        in_channels=512,
        r=3.0,
        loss=dict(type='CrossEntropyLoss', use_soft=True),
        init_cfg=dict(type='Normal', layer='Linear', std=0.01)),
    data_preprocessor=dict(
        type='MixMoDataPreprocessor',
        num_classes=200,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))
