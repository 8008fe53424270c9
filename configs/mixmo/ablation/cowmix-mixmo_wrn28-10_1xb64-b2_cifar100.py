# CowMix-MixMo (mixing-block ablation), WRN-28-10, CIFAR-100, M = 2 members,
# batch repetition b = 2.
# Published by the authors (mixing-block ablation): 84.17 top-1; in the same
# ablation CutMix masks give 84.38 (the Cut-MixMo b = 2 recipe) and linear
# mixing 82.5 (Linear-MixMo b = 2).
# CowMix masks: white noise smoothed by a Gaussian of log-uniform sigma in
# [4, 16] cells (CowMask's CIFAR range; the feature grid is 32x32), thresholded
# to exactly round(kappa * 32 * 32) cells.
# The ablation swaps only the binary mask of Cut-MixMo: once per batch the
# CowMix block with probability p = 0.5 (decayed to 0 over the last 1/12 of
# the epochs by MixingProbHook), else linear mixing, kappa ~ Dirichlet(2).
# The method doc gives neither b nor the cut/linear alternation for the
# ablation; b = 2 and the alternation are inferred from its CutMix and Mixup
# rows, which are the published Cut-MixMo (84.38, alternation) and
# Linear-MixMo (82.54) numbers at b = 2.
# Global batch: 1 GPU x 64 slots = 32 distinct images x 2 repeats (1564
# iterations per epoch); lr = 0.05 / b = 0.025.
_base_ = ['../cut-mixmo_wrn28-10_1xb64-b2_cifar100.py']

model = dict(
    mixing=dict(
        type='CutOrLinearMixing',
        alpha=2.0,
        prob=0.5,
        binary=dict(type='CowMixMixing', sigma_range=(4.0, 16.0))))
custom_hooks = [dict(type='MixingProbHook', decay_fraction=1 / 12)]
