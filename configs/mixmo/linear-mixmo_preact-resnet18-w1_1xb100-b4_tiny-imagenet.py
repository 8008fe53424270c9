# Linear-MixMo, PreActResNet-18-w1, Tiny ImageNet, b = 4 (no published number).
_base_ = [
    '../_base_/models/mixmo_preact-resnet18_tiny.py',
    '../_base_/datasets/tiny-imagenet_bs100.py',
    '../_base_/schedules/tiny_1200e.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(
    batch_sampler=dict(type='BatchRepeatSampler', num_repeats=4))
optim_wrapper = dict(optimizer=dict(lr=0.2 / 4))
