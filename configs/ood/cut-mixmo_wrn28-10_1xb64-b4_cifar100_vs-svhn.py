# Cut-MixMo WRN-28-10 (b = 4): CIFAR-100 vs SVHN (README.md).
_base_ = [
    '../mixmo/cut-mixmo_wrn28-10_1xb64-b4_cifar100.py',
    './_base_/cifar100_vs_svhn.py',
]

test_dataloader = {{_base_.ood_test_dataloader}}
test_evaluator = {{_base_.ood_evaluator}}
