# Linear-MixMo WRN-28-10 on CIFAR-10, M = 2.
_base_ = ['./mixmo_wrn28-10_cifar100.py']

model = dict(
    head=dict(num_classes=10),
    data_preprocessor=dict(
        num_classes=10,
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255]))
