# MIMO, ResNet-50, ImageNet-1k, b = 2: 77.5 top-1 (uncertainty-baselines).
_base_ = ['./linear-mixmo_resnet50_8xb64-b2_in1k.py']

model = dict(mixing=dict(alpha=None), head=dict(r=1.0))
