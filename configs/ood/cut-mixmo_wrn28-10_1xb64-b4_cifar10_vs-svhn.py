# Cut-MixMo WRN-28-10 (b = 4): CIFAR-10 vs SVHN (README.md).
_base_ = [
    '../mixmo/cut-mixmo_wrn28-10_1xb64-b4_cifar10.py',
    './_base_/cifar10_vs_svhn.py',
]

test_dataloader = {{_base_.ood_test_dataloader}}
test_evaluator = {{_base_.ood_evaluator}}
