# The headline recipe, cut-mixmo_wrn28-10_1xb64-b4_cifar100.py: 85.40 top-1.
_base_ = ['./cut-mixmo_wrn28-10_1xb64-b4_cifar100.py']
