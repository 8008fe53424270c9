# CIFAR WRN-28-10 schedule of the MixMo authors (method doc section 6), for a
# global batch of 64 (repeats included) on one GPU: SGD with Nesterov momentum
# 0.9, lr 0.05 / b (b = batch repetition; leaf configs set lr), linear warm-up
# over the first epoch, updated every iteration, lr x0.1 at epochs 101, 201
# and 226 (1-indexed; mmengine's milestones are 0-indexed), 300 epochs.
#
# Regularisation: the authors add 3e-4 * sum(theta^2) over all parameters to
# the loss. Its gradient is 6e-4 * theta, which is exactly SGD weight decay
# 6e-4 on all parameters (BN and biases included: no paramwise exceptions).
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.05, momentum=0.9, nesterov=True,
        weight_decay=6e-4))

param_scheduler = [
    # linear warm-up from ~0 during epoch 1, one step per iteration
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='MultiStepLR', by_epoch=True, milestones=[100, 200, 225],
        gamma=0.1),
]

train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()

# The lr above is for a global batch of 64; `--auto-scale-lr` rescales it
# linearly when the actual global batch (GPUs x per-GPU batch) differs.
auto_scale_lr = dict(base_batch_size=64)
