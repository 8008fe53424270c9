from .channel_order_hook import ChannelOrderHook
from .exact_resume_hook import ExactResumeHook, seed_generators, seed_worker
from .global_batch_hook import GlobalBatchHook
from .mixing_prob_hook import MixingProbHook, mixing_prob_factor
from .strict_load_hook import StrictLoadHook

__all__ = [
    'ChannelOrderHook', 'ExactResumeHook', 'GlobalBatchHook', 'MixingProbHook',
    'StrictLoadHook', 'mixing_prob_factor', 'seed_generators', 'seed_worker'
]
