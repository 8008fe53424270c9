# Linear-MixMo + CutMix, WRN-28-10, CIFAR-10, b = 4: 97.68 top-1 (published).
_base_ = ['./linear-mixmo_wrn28-10_1xb64-b4_cifar10.py']

model = dict(
    data_preprocessor=dict(
        pixel_mix=dict(type='CutMix', alpha=1.0, prob=0.5)))
