# Vanilla PreActResNet-18-w3, Tiny ImageNet: 65.78 top-1 (published).
_base_ = ['./vanilla_preact-resnet18-w1_1xb100_tiny-imagenet.py']

model = dict(
    backbone=dict(width=3), head=dict(in_channels=1536))
