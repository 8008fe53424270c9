# MIMO, WRN-28-10, CIFAR-100, b = 4: 83.06 top-1 (published).
_base_ = ['./linear-mixmo_wrn28-10_1xb64-b4_cifar100.py']

model = dict(mixing=dict(alpha=None), head=dict(r=1.0))
