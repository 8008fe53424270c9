# Linear-MixMo, PreActResNet-18-w3, Tiny ImageNet, b = 4 (no published number).
_base_ = ['./linear-mixmo_preact-resnet18-w1_1xb100-b4_tiny-imagenet.py']

model = dict(backbone=dict(width=3), head=dict(in_channels=1536))
