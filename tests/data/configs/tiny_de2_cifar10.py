# A tiny 2-member deep ensemble for the tests of EnsembleClassifier with
# tools/test.py: the real CIFAR-10 ensemble config
# (configs/ensembles/de2_wrn28-10_cifar10.py) with WRN-10-1 members, batch 16
# and no workers.
# Data: a fake CIFAR-10 (tests/utils/fake_cifar.py) under `data_root`, which
# the tests set with --cfg-options; `LocalCIFAR10` never downloads and skips
# the md5 check of the official files.
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
