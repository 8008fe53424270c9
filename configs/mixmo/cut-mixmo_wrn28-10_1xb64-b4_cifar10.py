# Cut-MixMo, WRN-28-10, CIFAR-10, M = 2, b = 4.
# Published by the authors: 97.51 top-1.
# Global batch: 1 GPU x 64 slots = 64 = 16 distinct images x 4 repeats
# (3128 iterations per epoch); lr = 0.05 / b = 0.0125. For N GPUs keep the
# global batch with `train_dataloader.batch_size=64//N`, or pass
# --auto-scale-lr to scale lr with the larger global batch (base 64).
# Members are paired within each GPU's batch: keep >= 32 slots per GPU
# (README, "Batch repetition and the global batch").
_base_ = [
    '../_base_/models/mixmo_wrn28-10_cifar10.py',
    '../_base_/datasets/cifar10_bs64.py',
    '../_base_/schedules/cifar_300e.py',
    '../_base_/default_runtime.py',
]

train_dataloader = dict(
    batch_sampler=dict(type='BatchRepeatSampler', num_repeats=4))
optim_wrapper = dict(optimizer=dict(lr=0.05 / 4))
