# mmpretrain's runtime + mmmixmo; seeds per rank: configs/mixmo/README.md.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['mmmixmo'], allow_failed_imports=False)
default_hooks = dict(
    # checkpoints record the channel order of the training images (prediction
    # on image files applies it)
    channel_order=dict(type='ChannelOrderHook'),
    # generators reseeded from (seed, epoch) before every epoch, the sampler
    # seed in the checkpoints, rank 0's BN statistics on every rank: a run
    # resumed from an epoch's checkpoint continues bit-identically
    exact_resume=dict(type='ExactResumeHook'),
    # the global batch (images, slots), the lr per slot, and a warning if the
    # images per step are not auto_scale_lr.base_batch_size, unscaled
    global_batch=dict(type='GlobalBatchHook'))
randomness = dict(diff_rank_seed=True)
