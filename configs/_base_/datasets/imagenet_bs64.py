# mmpretrain's ImageNet-1k (data/imagenet), 64 images per GPU, + uncertainty.
_base_ = ['mmpretrain::_base_/datasets/imagenet_bs64.py']

# mmpretrain's train_pipeline between LoadImageFromFile and PackInputs
train_augments = [
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]

# BatchAccuracy: Accuracy's keys and values; the ranks gather N bools per
# top-k, not the N x 1000 scores
val_evaluator = [
    dict(type='BatchAccuracy', topk=(1, 5)),
    dict(type='CalibrationMetric', num_bins=15),
    dict(type='EnsembleDiversityMetric'),
    dict(type='SelectivePredictionMetric'),
]
test_evaluator = val_evaluator
