# tiny_cifar10.py tested on its CIFAR-10 test set followed by SVHN's.
_base_ = [
    './tiny_cifar10.py',
    '../../../configs/ood/_base_/ood_evaluator.py',
]

test_dataloader = dict(
    _delete_=True,
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OODDataset',
        in_dist={{_base_.test_dataloader.dataset}},
        ood=dict(type='SVHN', data_root='data/svhn', split='test')))
test_evaluator = {{_base_.ood_evaluator}}
