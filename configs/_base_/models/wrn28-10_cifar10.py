# WRN-28-10 on CIFAR-10 (the single-network baseline).
_base_ = ['./wrn28-10_cifar100.py']

model = dict(head=dict(num_classes=10))
