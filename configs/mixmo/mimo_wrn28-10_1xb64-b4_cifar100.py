# MIMO, WRN-28-10, CIFAR-100, M = 2, b = 4.
# Published by the authors: 83.06 top-1, NLL_c 0.661.
# Global batch: 1 GPU x 64 slots = 64 = 16 distinct images x 4 repeats
# (3128 iterations per epoch); lr = 0.05 / b = 0.0125. For N GPUs keep the
# global batch with `train_dataloader.batch_size=64//N`, or pass
# --auto-scale-lr to scale lr with the larger global batch (base 64).
# Members are paired within each GPU's batch: keep >= 32 slots per GPU
# (README, "Batch repetition and the global batch").
_base_ = ['./cut-mixmo_wrn28-10_1xb64-b4_cifar100.py']

# MIMO (Havasi et al.): inputs summed (kappa fixed at 1/M), unweighted
# heads (r = 1 with equal kappa gives w = 1).
model = dict(
    mixing=dict(_delete_=True, type='LinearMixing', alpha=None),
    head=dict(r=1.0))
custom_hooks = []
