from .batch_repeat_sampler import BatchRepeatSampler

__all__ = ['BatchRepeatSampler']
