# Linear-MixMo, WRN-28-10, CIFAR-100, b = 4: 83.08 top-1 (published).
_base_ = [
    '../_base_/models/mixmo_wrn28-10_cifar100.py',
    '../_base_/datasets/cifar100_bs64.py',
    '../_base_/schedules/cifar_300e.py',
    '../_base_/default_runtime.py',
]

# b = 4: 16 images per step, each in 4 slots of every member (64 slots)
train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='MemberViews', num_repeats=4, num_members=2,
             transforms={{_base_.train_augments}}),
        dict(type='PackInputs'),
    ]))
auto_scale_lr = dict(base_batch_size=16)  # images, as batch_size
optim_wrapper = dict(optimizer=dict(lr=0.05 / 4))
