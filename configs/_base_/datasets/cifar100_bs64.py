# CIFAR-100 for the paper recipes: mmpretrain's CIFAR-100 settings (random
# crop 32 with padding 4, horizontal flip, no resize) with 64 images per GPU.
# MixMo configs add batch repetition through `batch_sampler`:
#   train_dataloader = dict(batch_sampler=dict(type='BatchRepeatSampler',
#                                              num_repeats=4))
# where the 64 slots then hold 16 distinct images, each repeated 4 times.
_base_ = ['mmpretrain::_base_/datasets/cifar100_bs16.py']

train_dataloader = dict(batch_size=64, num_workers=4)
val_dataloader = dict(batch_size=128, num_workers=4)
test_dataloader = val_dataloader

# Top-1/top-5 (upstream Accuracy), NLL/ECE/Brier and their temperature-scaled
# versions, and, for multi-head models, per-head top-1 and diversity.
val_evaluator = [
    dict(type='Accuracy', topk=(1, 5)),
    dict(type='CalibrationMetric', num_bins=15),
    dict(type='EnsembleDiversityMetric'),
]
test_evaluator = val_evaluator
