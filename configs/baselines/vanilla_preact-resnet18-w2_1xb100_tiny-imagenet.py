# Vanilla PreActResNet-18-w2, Tiny ImageNet: 64.80 top-1 (published).
_base_ = ['./vanilla_preact-resnet18-w1_1xb100_tiny-imagenet.py']

model = dict(
    backbone=dict(width=2), head=dict(in_channels=1024))
