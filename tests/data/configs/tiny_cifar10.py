# Tiny Cut-MixMo (WRN-10-1, b = 2) on a fake CIFAR-10 for tests/test_tools/.
_base_ = ['../../../configs/mixmo/cut-mixmo_wrn28-10_1xb64-b2_cifar10.py']

model = dict(
    backbone=dict(depth=10, widen_factor=1), head=dict(in_channels=64))

data_root = 'data/cifar10'
dataset_type = 'LocalCIFAR10'
# 8 distinct images per step, each in b = 2 slots of every member: 16 slots
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    dataset=dict(type=dataset_type, data_root=data_root, check_md5=False))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    dataset=dict(type=dataset_type, data_root=data_root, check_md5=False))
test_dataloader = val_dataloader

optim_wrapper = dict(optimizer=dict(lr=0.05))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[1], gamma=0.5)
]
train_cfg = dict(by_epoch=True, max_epochs=2, val_interval=1)
auto_scale_lr = dict(base_batch_size=8)

default_hooks = dict(logger=dict(type='LoggerHook', interval=1))
randomness = dict(seed=0)
