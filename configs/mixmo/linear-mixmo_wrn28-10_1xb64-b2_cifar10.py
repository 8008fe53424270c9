# Linear-MixMo, WRN-28-10, CIFAR-10, M = 2, b = 2.
# Published by the authors: 96.56 top-1.
# Global batch: 1 GPU x 64 slots = 64 = 32 distinct images x 2 repeats
# (1564 iterations per epoch); lr = 0.05 / b = 0.025. For N GPUs keep the
# global batch with `train_dataloader.batch_size=64//N`, or pass
# --auto-scale-lr to scale lr with the larger global batch (base 64).
# Members are paired within each GPU's batch: keep >= 32 slots per GPU
# (README, "Batch repetition and the global batch").
_base_ = ['./linear-mixmo_wrn28-10_1xb64-b4_cifar10.py']

train_dataloader = dict(batch_sampler=dict(num_repeats=2))
optim_wrapper = dict(optimizer=dict(lr=0.05 / 2))
