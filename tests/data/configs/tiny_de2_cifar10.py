# Tiny 2-member deep ensemble on a fake CIFAR-10 for tests/test_tools/.
_base_ = ['../../../configs/ensembles/de2_wrn28-10_cifar10.py']

model = dict(
    member=dict(
        backbone=dict(depth=10, widen_factor=1), head=dict(in_channels=64)))

data_root = 'data/cifar10'
dataset_type = 'LocalCIFAR10'
train_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type=dataset_type, data_root=data_root, check_md5=False))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(type=dataset_type, data_root=data_root, check_md5=False))
test_dataloader = val_dataloader
