from .mixing_prob_hook import MixingProbHook, mixing_prob_factor

__all__ = ['MixingProbHook', 'mixing_prob_factor']
