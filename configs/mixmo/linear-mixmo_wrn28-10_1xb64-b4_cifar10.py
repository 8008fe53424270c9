# Linear-MixMo, WRN-28-10, CIFAR-10, M = 2, b = 4.
# Published by the authors: 96.91 top-1.
# Global batch: 1 GPU x 64 slots = 64 = 16 distinct images x 4 repeats
# (3128 iterations per epoch); lr = 0.05 / b = 0.0125. For N GPUs keep the
# global batch with `train_dataloader.batch_size=64//N`, or pass
# --auto-scale-lr to scale lr with the larger global batch (base 64).
# Members are paired within each GPU's batch: keep >= 32 slots per GPU
# (README, "Batch repetition and the global batch").
_base_ = ['./cut-mixmo_wrn28-10_1xb64-b4_cifar10.py']

# Linear mixing only: kappa ~ Dirichlet(2) per sample, no CutMix in features.
model = dict(mixing=dict(_delete_=True, type='LinearMixing', alpha=2.0))
custom_hooks = []
