# Deep ensemble of 2 CutMix WRN-28-10, CIFAR-10: 97.52 top-1 (published).
_base_ = ['../baselines/cutmix_wrn28-10_1xb64_cifar10.py']

model = dict(
    _delete_=True,
    type='EnsembleClassifier',
    member={{_base_.model}},
    num_members=2,
    average='probs')
