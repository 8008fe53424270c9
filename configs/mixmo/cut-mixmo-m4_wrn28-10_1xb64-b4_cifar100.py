# Cut-MixMo with M = 4, WRN-28-10, CIFAR-100, b = 4 (no published number).
_base_ = ['./cut-mixmo_wrn28-10_1xb64-b4_cifar100.py']

model = dict(num_members=4)
# b = 4: 16 images per step, each in 4 slots of every member (64 slots)
train_dataloader = dict(
    batch_size=16,
    dataset=dict(pipeline=[
        dict(type='MemberViews', num_repeats=4, num_members=4,
             transforms={{_base_.train_augments}}),
        dict(type='PackInputs'),
    ]))
