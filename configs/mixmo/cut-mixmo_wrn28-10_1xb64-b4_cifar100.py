# Cut-MixMo, WRN-28-10, CIFAR-100, b = 4: 85.40 top-1 (published).
_base_ = [
    '../_base_/models/mixmo_wrn28-10_cifar100.py',
    '../_base_/datasets/cifar100_bs64.py',
    '../_base_/schedules/cifar_300e.py',
    '../_base_/default_runtime.py',
]

model = dict(mixing=dict(type='CutOrLinearMixing', prob=0.5))
custom_hooks = [dict(type='MixingProbHook', decay_fraction=1 / 12)]
train_dataloader = dict(
    batch_sampler=dict(type='BatchRepeatSampler', num_repeats=4))
optim_wrapper = dict(optimizer=dict(lr=0.05 / 4))
