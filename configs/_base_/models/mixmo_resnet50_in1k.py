# Linear-MixMo on mmpretrain's ResNet-50, ImageNet-1k, M = 2, with MIMO's
# input repetition and probability average (configs/mixmo/README.md).
model = dict(
    type='MixMoClassifier',
    num_members=2,
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch'),
    mixing=dict(type='LinearMixing', alpha=2.0),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='MultiHeadClsHead',
        num_classes=1000,
        in_channels=2048,
        r=3.0,
        loss=dict(type='CrossEntropyLoss', use_soft=True),
        average='probs'),
    data_preprocessor=dict(
        type='MixMoDataPreprocessor',
        num_classes=1000,
        input_repetition_prob=0.6,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))
