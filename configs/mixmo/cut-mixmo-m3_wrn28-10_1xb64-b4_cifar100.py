# Cut-MixMo with M = 3, WRN-28-10, CIFAR-100, b = 4 (no published number).
_base_ = ['./cut-mixmo_wrn28-10_1xb64-b4_cifar100.py']

model = dict(num_members=3)
