# Cut-MixMo ResNet-50 from mmpretrain's ImageNet-1k checkpoint, b = 2, on
# CIFAR-100 upsampled to 224 x 224 (see README.md).
_base_ = ['./mimo_resnet50_in1k-pre_1xb64-b2_cifar100-224px.py']

model = dict(
    mixing=dict(type='CutOrLinearMixing', alpha=2.0, prob=0.5),
    head=dict(r=3.0))
custom_hooks = [dict(type='MixingProbHook', decay_fraction=1 / 12)]
