# Tiny ImageNet (200 classes, 64x64) for the paper recipes: horizontal flip and
# random crop 64 with padding 4 (method doc section 5), 100 images per GPU.
# Expected layout under data_root (the official tiny-imagenet-200.zip):
#   wnids.txt, words.txt, train/<wnid>/images/*.JPEG,
#   val/images/*.JPEG, val/val_annotations.txt
# MixMo configs add batch repetition through `batch_sampler` (see
# cifar100_bs64.py).
dataset_type = 'TinyImageNet'
data_root = 'data/tiny-imagenet-200'
data_preprocessor = dict(
    num_classes=200,
    # ImageNet RGB statistics; images are loaded as BGR
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandomCrop', crop_size=64, padding=4),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=100,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=100,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='CalibrationMetric', num_bins=15),
    dict(type='EnsembleDiversityMetric'),
]
test_evaluator = val_evaluator
