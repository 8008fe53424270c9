# CIFAR-100, mmpretrain's pipeline, 64 images per GPU.
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']

train_augments = [  # the train pipeline's augmentations, for MemberViews
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_dataloader = dict(batch_size=64, num_workers=4)
val_dataloader = dict(batch_size=128, num_workers=4)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='CalibrationMetric', num_bins=15),
    dict(type='EnsembleDiversityMetric'),
    dict(type='SelectivePredictionMetric'),
]
test_evaluator = val_evaluator
