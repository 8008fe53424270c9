# The headline recipe (Cut-MixMo, WRN-28-10, CIFAR-100, M = 2, b = 4) tested
# on CIFAR-100-C (Hendrycks & Dietterich, ICLR 2019): the model, training and
# validation of ../mixmo/cut-mixmo_wrn28-10_cifar100.py (train it with either
# config), with the test set replaced by the 15 benchmark corruptions x 5
# severities (750,000 images) and every test metric averaged over those 75
# (corruption, severity) groups:
#   python tools/test.py configs/corruptions/cut-mixmo_wrn28-10_cifar100-c.py \
#       work_dirs/cut-mixmo_wrn28-10_cifar100/epoch_300.pth
# prints corruption/accuracy/top1, corruption/calibration/nll, ... (see
# README.md). Data: CIFAR-100-C.tar extracted to data/CIFAR-100-C
# (labels.npy + one <corruption>.npy per corruption).
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
        # Same preprocessing as the clean test set (none); PackInputs'
        # default meta keys plus `corruption` and `severity`, which travel
        # with each prediction to the evaluator.
        pipeline=[
            dict(
                type='PackInputs',
                meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                           'scale_factor', 'flip', 'flip_direction',
                           'corruption', 'severity')),
        ]),
)
# The metrics of the clean test set, each computed per group, then averaged
# over the groups; per_corruption adds corruption/<name>/... keys.
test_evaluator = [
    dict(
        type='CorruptionMetric',
        metrics=[
            dict(type='Accuracy', topk=(1, 5)),
            dict(type='CalibrationMetric', num_bins=15),
            dict(type='EnsembleDiversityMetric'),
        ],
        per_corruption=True),
]
