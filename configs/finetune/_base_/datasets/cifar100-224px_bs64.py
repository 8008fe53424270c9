# CIFAR-100 upsampled to 224 x 224 for an ImageNet-pretrained network, as
# mmpretrain's fine-tuning tutorial does for CIFAR-10: the 32 x 32 crop and
# flip, then Resize to 224 (docs/en/user_guides/finetune.md).
_base_ = ['../../../_base_/datasets/cifar100_bs64.py']

train_augments = [  # the train pipeline's augmentations, for MemberViews
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='Resize', scale=224),
]
train_pipeline = [*train_augments, dict(type='PackInputs')]
test_pipeline = [dict(type='Resize', scale=224), dict(type='PackInputs')]

train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
