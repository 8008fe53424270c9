# The CIFAR optimizer over 4 epochs: 1-epoch warm-up, then cosine to 0.
_base_ = ['./cifar_300e.py']

max_epochs = 4
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=1,
        end=max_epochs,
        T_max=max_epochs - 1,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)
