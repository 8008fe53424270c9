# Short CPU schedule for the Digits quickstart: 12 epochs of SGD with Nesterov
# momentum 0.9, lr 0.1, weight decay 5e-4 (all parameters), linear warm-up
# over the first epoch updated every iteration (as the paper recipes), then
# cosine annealing to 0 per iteration over the remaining 11 epochs (instead of
# the paper's steps, which need hundreds of epochs).
# The lr is for 64 slots per batch (repeats included) on one process; MixMo
# leaf configs keep it at b = 2 (the paper's rule lr / b converges too slowly
# for a 12-epoch budget).
max_epochs = 12

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4))

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

train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=64)
