# Cut-MixMo, ResNet-50, ImageNet-1k, b = 2, MIMO's schedule.
_base_ = ['./linear-mixmo_resnet50_8xb64-b2_in1k.py']

model = dict(mixing=dict(type='CutOrLinearMixing', prob=0.5))
custom_hooks = [dict(type='MixingProbHook', decay_fraction=1 / 12)]
