# mmpretrain's runtime + mmmixmo; seeds per rank: configs/mixmo/README.md.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['mmmixmo'], allow_failed_imports=False)
randomness = dict(diff_rank_seed=True)
