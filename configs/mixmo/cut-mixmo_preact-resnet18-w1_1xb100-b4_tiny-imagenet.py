# Cut-MixMo, PreActResNet-18-w1, Tiny ImageNet, M = 2, b = 4.
# Published by the authors: 64.44 top-1, NLL_c 1.48.
# Global batch: 1 GPU x 100 slots = 100 = 25 distinct images x 4 repeats
# (4000 iterations per epoch); lr = 0.2 / b = 0.05. For N GPUs divide
# train_dataloader.batch_size by N, or pass --auto-scale-lr (base 100).
_base_ = [
    '../_base_/models/mixmo_preact-resnet18_tiny.py',
    '../_base_/datasets/tiny-imagenet_bs100.py',
    '../_base_/schedules/tiny_1200e.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(
    batch_sampler=dict(type='BatchRepeatSampler', num_repeats=4))
optim_wrapper = dict(optimizer=dict(lr=0.2 / 4))
