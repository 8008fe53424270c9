# The headline recipe (Cut-MixMo, CIFAR-100, b = 4) tested on CIFAR-100-C.
_base_ = ['../mixmo/cut-mixmo_wrn28-10_cifar100.py']

test_dataloader = dict(
    _delete_=True,
    batch_size=128,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CIFARC',
        data_root='data/CIFAR-100-C',
        cifar='cifar100',
        corruptions='all',
        severities=(1, 2, 3, 4, 5),
        pipeline=[
            dict(
                type='PackInputs',
                meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                           'scale_factor', 'flip', 'flip_direction',
                           'corruption', 'severity')),
        ]),
)
test_evaluator = [
    dict(
        type='CorruptionMetric',
        metrics={{_base_.test_evaluator}},
        per_corruption=True),
]
