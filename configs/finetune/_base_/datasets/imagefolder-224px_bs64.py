# data_root/{train,val}/<class>/*.jpg (CustomDataset) at 224 x 224 for an
# ImageNet-pretrained network: mmpretrain's ImageNet pipeline and
# normalisation.
dataset_type = 'CustomDataset'
data_root = 'data/imagefolder'
data_preprocessor = dict(
    num_classes=10,
    mean=[123.675, 116.28, 103.53],  # ImageNet's, as the pretrained network
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

train_augments = [  # the train pipeline's augmentations, for MemberViews
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
train_pipeline = [
    dict(type='LoadImageFromFile'), *train_augments,
    dict(type='PackInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=4,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix='val',
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
