# The paper's headline recipe: Cut-MixMo, WRN-28-10, CIFAR-100, M = 2, b = 4
# (published by the authors: 85.40 top-1, NLL_c 0.535). Same file as
# cut-mixmo_wrn28-10_1xb64-b4_cifar100.py, named for the command line:
#   python tools/train.py configs/mixmo/cut-mixmo_wrn28-10_cifar100.py
_base_ = ['./cut-mixmo_wrn28-10_1xb64-b4_cifar100.py']
