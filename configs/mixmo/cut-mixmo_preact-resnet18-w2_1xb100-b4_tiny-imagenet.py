# Cut-MixMo, PreActResNet-18-w2, Tiny ImageNet, b = 4: 69.13 top-1 (published).
_base_ = ['./cut-mixmo_preact-resnet18-w1_1xb100-b4_tiny-imagenet.py']

model = dict(backbone=dict(width=2), head=dict(in_channels=1024))
