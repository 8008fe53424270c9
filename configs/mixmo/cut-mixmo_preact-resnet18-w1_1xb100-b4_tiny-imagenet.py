# Cut-MixMo, PreActResNet-18-w1, Tiny ImageNet, b = 4: 64.44 top-1 (published).
_base_ = ['./linear-mixmo_preact-resnet18-w1_1xb100-b4_tiny-imagenet.py']

model = dict(mixing=dict(type='CutOrLinearMixing', prob=0.5))
custom_hooks = [dict(type='MixingProbHook', decay_fraction=1 / 12)]
