# Vanilla PreActResNet-18-w1, Tiny ImageNet: 62.56 top-1 (published).
_base_ = [
    '../_base_/models/preact-resnet18_tiny.py',
    '../_base_/datasets/tiny-imagenet_bs100.py',
    '../_base_/schedules/tiny_1200e.py',
    '../_base_/default_runtime.py',
]
