# CIFAR-10 for the paper recipes: mmpretrain's CIFAR-10 settings (random crop
# 32 with padding 4, horizontal flip) with 64 images per GPU. See
# cifar100_bs64.py for batch repetition.
_base_ = ['mmpretrain::_base_/datasets/cifar10_bs16.py']

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
