# CIFAR-100's test set, then SVHN's (test_32x32.mat) as OOD.
_base_ = ['./ood_evaluator.py']

# test_dataloader = {{_base_.ood_test_dataloader}} replaces the model's
ood_test_dataloader = dict(
    _delete_=True,
    batch_size=128,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OODDataset',
        in_dist=dict(
            type='CIFAR100',
            data_root='data/cifar100/',
            split='test',
            pipeline=[dict(type='PackInputs')]),
        ood=dict(type='SVHN', data_root='data/svhn', split='test')))
