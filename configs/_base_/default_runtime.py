# Runtime shared by the mmmixmo configs: mmpretrain's runtime (default scope
# `mmpretrain`, hooks, visualizer, env) plus the import that registers
# mmmixmo's components and applies its compatibility fixes.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['mmmixmo'], allow_failed_imports=False)

# A different seed on every rank (rank 0's seed + rank). MixMo draws its
# member pairing, per-sample kappa, CutMix boxes and pixel-mix partners in
# the training step on each rank; with one seed for all ranks (mmengine's
# default) slot j would get the same draws on every GPU, i.e. only
# B / num_gpus independent draws per global batch. The samplers still shard
# consistently: mmengine then seeds them with a draw broadcast from rank 0
# (reproducible for a given `randomness.seed`, but not equal to it, so runs
# shuffle differently than without this line).
randomness = dict(diff_rank_seed=True)
