# Deep ensemble of 4 PreActResNet-18-w3, Tiny ImageNet: 69.72 top-1 (paper).
_base_ = ['../baselines/vanilla_preact-resnet18-w3_1xb100_tiny-imagenet.py']

model = dict(
    _delete_=True,
    type='EnsembleClassifier',
    member={{_base_.model}},
    num_members=4,
    average='probs')
