"""Batch sampler implementing MixMo's batch repetition."""
import itertools
from typing import Iterator, List

from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, Sampler


@DATA_SAMPLERS.register_module()
class BatchRepeatSampler(BatchSampler):
    """Repeat every sampled index ``num_repeats`` times in the batch.

    MixMo's batch repetition b: ``batch_size`` counts the repeats (64 slots
    hold 16 distinct images at b = 4), so an epoch has b times more
    iterations; each copy is augmented on its own by the dataset pipeline.
    Shuffling and DDP sharding come from the wrapped ``sampler``::

        train_dataloader = dict(
            batch_size=64,
            batch_sampler=dict(type='BatchRepeatSampler', num_repeats=4))

    Args:
        sampler (Sampler): Sampler of dataset indices.
        batch_size (int): Slots per batch, a multiple of ``num_repeats``.
        num_repeats (int): The repetition b. Defaults to 1.
        drop_last (bool): Drop the last, incomplete batch. Defaults to False.
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 num_repeats: int = 1,
                 drop_last: bool = False) -> None:
        if not (isinstance(num_repeats, int) and num_repeats >= 1
                and batch_size % num_repeats == 0):
            raise ValueError(
                f'train_dataloader.batch_size ({batch_size}) must be a '
                'multiple of train_dataloader.batch_sampler.num_repeats '
                f'({num_repeats} >= 1): the batch size counts the repeats')
        super().__init__(sampler, batch_size, drop_last)
        self.num_repeats = num_repeats

    def __iter__(self) -> Iterator[List[int]]:
        indices = iter(self.sampler)
        distinct = self.batch_size // self.num_repeats
        while True:
            batch = list(itertools.islice(indices, distinct))
            if not batch or (self.drop_last and len(batch) < distinct):
                return
            yield [idx for idx in batch for _ in range(self.num_repeats)]

    def __len__(self) -> int:
        distinct = self.batch_size // self.num_repeats
        if self.drop_last:
            return len(self.sampler) // distinct
        return -(-len(self.sampler) // distinct)
