# MixMo WRN-28-10 on CIFAR with M = 2 members: two first convolutions
# (3 -> 16, 3x3), the mixing block on their outputs, the shared WRN core,
# global pooling and two linear heads (loss weights w_r with r = 3).
# The mixing block here is Cut-MixMo's per-batch choice between CutMix and
# linear mixing in features (p = 0.5, decayed by MixingProbHook at the end of
# training); Linear-MixMo and MIMO configs replace `mixing`.
# CIFAR-100 (K = 100); mixmo_wrn28-10_cifar10.py adapts it to CIFAR-10.
model = dict(
    type='MixMoClassifier',
    num_members=2,
    backbone=dict(type='WideResNet', depth=28, widen_factor=10),
    encoder_layer='conv1',
    mixing=dict(type='CutOrLinearMixing', alpha=2.0, prob=0.5),
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
        # CIFAR-100 RGB statistics, as mmpretrain's cifar100 dataset config
        mean=[129.304, 124.070, 112.434],
        std=[68.170, 65.392, 70.418],
        to_rgb=False))

# Cut-MixMo's p: constant, then linear decay to 0 over the last 1/12 epochs.
custom_hooks = [dict(type='MixingProbHook', decay_fraction=1 / 12)]
