# PreActResNet-18-w1 on Tiny ImageNet (the single-network baseline).
model = dict(
    type='VanillaClassifier',
    backbone=dict(
        type='PreActResNet', depth=18, width=1, stem_stride=2,
        stem_channels=64),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='LinearClsHead',
        num_classes=200,
        in_channels=512,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0),
        init_cfg=dict(type='Normal', layer='Linear', std=0.01)))
