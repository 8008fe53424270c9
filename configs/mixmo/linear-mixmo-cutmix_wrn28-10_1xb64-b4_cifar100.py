# Linear-MixMo + CutMix, WRN-28-10, CIFAR-100, M = 2, b = 4.
# Published by the authors: 85.47 top-1, NLL_c 0.558.
# Global batch: 1 GPU x 64 slots = 64 = 16 distinct images x 4 repeats
# (3128 iterations per epoch); lr = 0.05 / b = 0.0125. For N GPUs keep the
# global batch with `train_dataloader.batch_size=64//N`, or pass
# --auto-scale-lr to scale lr with the larger global batch (base 64).
# Members are paired within each GPU's batch: keep >= 32 slots per GPU
# (README, "Batch repetition and the global batch").
_base_ = ['./linear-mixmo_wrn28-10_1xb64-b4_cifar100.py']

# Pixel-level CutMix on each member input before MixMo (probability 0.5,
# lambda ~ Beta(1, 1)); the label ratio counts the visible part only.
model = dict(
    data_preprocessor=dict(
        pixel_mix=dict(type='CutMix', alpha=1.0, prob=0.5)))
