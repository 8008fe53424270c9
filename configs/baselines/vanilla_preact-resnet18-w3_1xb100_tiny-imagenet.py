# Vanilla PreActResNet-18-w3 on Tiny ImageNet (single network, b = 1).
# Published by the authors: 65.78 top-1.
# Global batch: 1 GPU x 100 = 100 (1000 iterations per epoch); lr 0.2.
_base_ = ['./vanilla_preact-resnet18-w1_1xb100_tiny-imagenet.py']

model = dict(
    backbone=dict(width=3), head=dict(in_channels=1536))
