# scikit-learn's digits at 32x32 (configs/quickstart/README.md), batch 64.
dataset_type = 'Digits'
data_preprocessor = dict(
    num_classes=10,
    mean=[77.906, 77.906, 77.906],
    std=[82.579, 82.579, 82.579],
    to_rgb=False)

train_augments = [dict(type='RandomCrop', crop_size=32, padding=4)]
train_pipeline = [*train_augments, dict(type='PackInputs')]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type, split='train', img_size=32,
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=150,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        type=dataset_type, split='test', img_size=32,
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='CalibrationMetric', num_bins=15),
    dict(type='EnsembleDiversityMetric'),
    dict(type='SelectivePredictionMetric'),
]
test_evaluator = val_evaluator
