# uncertainty-baselines' ImageNet MIMO schedule, for 512 images per step.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='bfloat16',
    # 0.1 per 256 images; L2 1e-4 * sum(w^2) = weight_decay 2e-4, not on BN
    optimizer=dict(
        type='SGD', lr=0.2, momentum=0.9, nesterov=True, weight_decay=2e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0))

param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='MultiStepLR', by_epoch=True, milestones=[50, 100, 133],
        gamma=0.1),
]

train_cfg = dict(by_epoch=True, max_epochs=150, val_interval=1)
val_cfg = dict()
test_cfg = dict()

auto_scale_lr = dict(base_batch_size=512)
