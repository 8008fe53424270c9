# MIMO, WRN-28-10, CIFAR-10, b = 4: 96.74 top-1 (published).
_base_ = ['./linear-mixmo_wrn28-10_1xb64-b4_cifar10.py']

model = dict(mixing=dict(alpha=None), head=dict(r=1.0))
