# Vanilla PreActResNet-18-w1 on Tiny ImageNet (single network, b = 1).
# Published by the authors: 62.56 top-1.
# Global batch: 1 GPU x 100 = 100 (1000 iterations per epoch); lr 0.2.
_base_ = [
    '../_base_/models/preact-resnet18_tiny.py',
    '../_base_/datasets/tiny-imagenet_bs100.py',
    '../_base_/schedules/tiny_1200e.py',
    '../_base_/default_runtime.py',
]
