# CIFAR-10's test set, then CIFAR-100's as (near) OOD.
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
            type='CIFAR10',
            data_root='data/cifar10/',
            split='test',
            pipeline=[dict(type='PackInputs')]),
        ood=dict(type='CIFAR100', data_root='data/cifar100/', split='test')))
