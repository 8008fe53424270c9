# Linear-MixMo, PreActResNet-18-w1, Tiny ImageNet, b = 4 (no published number).
_base_ = [
    '../_base_/models/mixmo_preact-resnet18_tiny.py',
    '../_base_/datasets/tiny-imagenet_bs100.py',
    '../_base_/schedules/tiny_1200e.py',
    '../_base_/default_runtime.py',
]

# b = 4: 25 images per step, each in 4 slots of every member (100 slots)
train_dataloader = dict(
    batch_size=25,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MemberViews', num_repeats=4, num_members=2,
             transforms={{_base_.train_augments}}),
        dict(type='PackInputs'),
    ]))
auto_scale_lr = dict(base_batch_size=25)  # images, as batch_size
optim_wrapper = dict(optimizer=dict(lr=0.2 / 4))
