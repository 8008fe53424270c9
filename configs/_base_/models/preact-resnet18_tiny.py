# Vanilla PreActResNet-18-w on Tiny ImageNet (64x64): 3x3 stride-2 stem with
# 64 channels (not multiplied by w), widths 64w..512w, no final BN, heads
# initialised N(0, 0.01) as in the MixMo authors' code. w = 1 by default.
model = dict(
    type='ImageClassifier',
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
