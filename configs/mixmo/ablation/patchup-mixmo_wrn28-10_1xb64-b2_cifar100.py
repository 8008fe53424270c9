# PatchUp-MixMo ablation, WRN-28-10, CIFAR-100, b = 2: 84.16 top-1 (published).
_base_ = ['../cut-mixmo_wrn28-10_1xb64-b2_cifar100.py']

model = dict(mixing=dict(binary=dict(type='PatchUpMixing', patch_size=4)))
