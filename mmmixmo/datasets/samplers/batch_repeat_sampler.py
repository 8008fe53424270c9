"""Batch sampler implementing MixMo's batch repetition."""
import itertools
from typing import Iterable, Iterator, List, Union

from mmpretrain.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, Sampler


@DATA_SAMPLERS.register_module()
class BatchRepeatSampler(BatchSampler):
    """Batch sampler repeating every sampled index ``num_repeats`` times.

    MixMo's batch repetition ``b``: each index drawn from ``sampler`` is
    repeated ``b`` times consecutively inside the batch, and ``batch_size``
    counts the repeats (64 slots hold 16 distinct images at ``b = 4``), so an
    epoch has ``b`` times more iterations. Every copy goes through the
    dataset pipeline separately and therefore gets its own random
    augmentation; the member pairing is done by
    :class:`mmmixmo.models.data_preprocessors.MixMoDataPreprocessor`.

    mmengine's ``Runner.build_dataloader`` builds it from
    ``train_dataloader.batch_sampler`` and passes ``sampler`` (the built
    ``train_dataloader.sampler``) and ``batch_size``
    (``train_dataloader.batch_size``)::

        train_dataloader = dict(
            batch_size=64,
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_sampler=dict(type='BatchRepeatSampler', num_repeats=4),
            ...)

    ``drop_last`` must be given here (not in ``train_dataloader``, where the
    torch DataLoader rejects it next to a batch sampler). Per-epoch shuffling
    and DDP sharding come from the wrapped sampler: mmengine's
    ``DistSamplerSeedHook`` calls ``batch_sampler.sampler.set_epoch``, and
    each rank repeats the indices of its own shard.

    Args:
        sampler (Sampler | Iterable[int]): Sampler of dataset indices.
        batch_size (int): Number of slots per batch, repeats included; must
            be divisible by ``num_repeats``.
        num_repeats (int): Number of consecutive copies of each index (``b``).
            Defaults to 1 (a plain batch sampler).
        drop_last (bool): Whether to drop the last batch if it holds fewer
            than ``batch_size // num_repeats`` distinct indices.
            Defaults to False.
    """

    def __init__(self,
                 sampler: Union[Sampler, Iterable[int]],
                 batch_size: int,
                 num_repeats: int = 1,
                 drop_last: bool = False) -> None:
        if (not isinstance(num_repeats, int) or isinstance(num_repeats, bool)
                or num_repeats < 1):
            raise ValueError('train_dataloader.batch_sampler.num_repeats must '
                             f'be a positive integer, got {num_repeats!r}')
        if (not isinstance(batch_size, int) or isinstance(batch_size, bool)
                or batch_size < 1):
            raise ValueError('train_dataloader.batch_size must be a positive '
                             f'integer, got {batch_size!r}')
        if batch_size % num_repeats != 0:
            raise ValueError(
                f'train_dataloader.batch_size ({batch_size}) must be '
                'divisible by train_dataloader.batch_sampler.num_repeats '
                f'({num_repeats}): the batch size counts the repeats')
        if not isinstance(drop_last, bool):
            raise ValueError('train_dataloader.batch_sampler.drop_last must '
                             f'be a bool, got {drop_last!r}')
        super().__init__(sampler, batch_size, drop_last)
        self.num_repeats = num_repeats
        self.num_distinct = batch_size // num_repeats

    def __iter__(self) -> Iterator[List[int]]:
        """Yield batches of indices, each index repeated consecutively.

        Returns:
            Iterator[list[int]]: Batches of ``batch_size`` indices (the last
            one may be shorter, by a multiple of ``num_repeats``, unless
            ``drop_last``).
        """
        indices = iter(self.sampler)
        while True:
            distinct = list(itertools.islice(indices, self.num_distinct))
            if not distinct or (self.drop_last
                                and len(distinct) < self.num_distinct):
                return
            yield [idx for idx in distinct for _ in range(self.num_repeats)]

    def __len__(self) -> int:
        """Number of batches per epoch.

        Returns:
            int: ``len(sampler) / (batch_size / num_repeats)``, floored with
            ``drop_last`` and rounded up otherwise.
        """
        num_indices = len(self.sampler)  # type: ignore[arg-type]
        if self.drop_last:
            return num_indices // self.num_distinct
        return -(-num_indices // self.num_distinct)
