# Deep ensemble of 2 WRN-28-10, CIFAR-100: 83.17 top-1 (published).
_base_ = ['../baselines/vanilla_wrn28-10_1xb64_cifar100.py']

model = dict(
    _delete_=True,
    type='EnsembleClassifier',
    member={{_base_.model}},
    num_members=2,
    average='probs')
