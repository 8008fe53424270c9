# scikit-learn's bundled 8x8 handwritten digits (`Digits`: 1497 train / 300
# test images, 10 classes) upscaled to 32x32 RGB, for the CPU quickstart. The
# data ships inside scikit-learn: no download, no data folder. Augmentation:
# random crop 32 with padding 4 (one pixel of the original 8x8 grid); no
# flip, digits are not mirror-symmetric. 64 images per batch; MixMo configs
# add batch repetition through `batch_sampler` (see cifar100_bs64.py).
# num_workers=0: the pipeline is a crop of a 32x32 array, cheaper than
# starting worker processes on a 2-core machine.
dataset_type = 'Digits'
data_preprocessor = dict(
    num_classes=10,
    # grey replicated to RGB: mean/std of the 32x32 train split
    mean=[77.906, 77.906, 77.906],
    std=[82.579, 82.579, 82.579],
    to_rgb=False)

train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='PackInputs'),
]
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

# Top-1 (upstream Accuracy; top-5 is uninformative with 10 easy classes),
# NLL/ECE/Brier and their temperature-scaled versions, and, for multi-head
# models, per-head top-1 and diversity.
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='CalibrationMetric', num_bins=15),
    dict(type='EnsembleDiversityMetric'),
]
test_evaluator = val_evaluator
