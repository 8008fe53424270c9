# Cut-MixMo + CutMix, WRN-28-10, CIFAR-10, b = 2: 97.45 top-1 (published).
_base_ = ['./cut-mixmo-cutmix_wrn28-10_1xb64-b4_cifar10.py']

# b = 2: 32 images per step, each in 2 slots of every member (64 slots)
train_dataloader = dict(
    batch_size=32,
    dataset=dict(pipeline=[
        dict(type='MemberViews', num_repeats=2, num_members=2,
             transforms={{_base_.train_augments}}),
        dict(type='PackInputs'),
    ]))
auto_scale_lr = dict(base_batch_size=32)  # images, as batch_size
optim_wrapper = dict(optimizer=dict(lr=0.05 / 2))
