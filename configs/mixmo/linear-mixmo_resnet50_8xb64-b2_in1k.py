# Linear-MixMo, ResNet-50, ImageNet-1k, b = 2, MIMO's schedule.
_base_ = [
    '../_base_/models/mixmo_resnet50_in1k.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_150e.py',
    '../_base_/default_runtime.py',
]

# b = 2: 32 images per GPU and step, each in 2 slots of every member (64 slots)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MemberViews', num_repeats=2, num_members=2,
             transforms={{_base_.train_augments}}),
        dict(type='PackInputs'),
    ]))
auto_scale_lr = dict(base_batch_size=256)  # 8 GPUs x 32 images
optim_wrapper = dict(optimizer=dict(lr=0.2 / 2))
