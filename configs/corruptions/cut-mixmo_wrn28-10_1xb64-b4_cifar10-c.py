# Cut-MixMo, WRN-28-10, CIFAR-10, b = 4, tested on CIFAR-10-C.
_base_ = ['../mixmo/cut-mixmo_wrn28-10_1xb64-b4_cifar10.py']

test_dataloader = dict(
    _delete_=True,
    batch_size=128,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='CIFARC',
        data_root='data/CIFAR-10-C',
        cifar='cifar10',
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
