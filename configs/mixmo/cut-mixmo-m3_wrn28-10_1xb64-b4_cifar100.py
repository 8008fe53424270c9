# Cut-MixMo with M = 3 members, WRN-28-10, CIFAR-100, b = 4 (beyond the paper:
# no published number). 3 first convolutions and 3 heads; in a CutMix batch
# one member (drawn per batch) owns a feature rectangle of area kappa_A and
# the others share the complement with weights kappa_j / sum_{j != A} kappa_j;
# kappa ~ Dirichlet(2, ..., 2) per sample; loss weights
# w_i = 3 kappa_i^(1/3) / sum_j kappa_j^(1/3).
# Global batch: 1 GPU x 64 slots = 16 distinct images x 4 repeats.
_base_ = ['./cut-mixmo_wrn28-10_1xb64-b4_cifar100.py']

model = dict(num_members=3)
