from collections import Counter
from types import SimpleNamespace

import mmengine.dataset.sampler as mmengine_sampler
import pytest
from mmengine.dataset import DefaultSampler
from mmengine.hooks import DistSamplerSeedHook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.utils.data import BatchSampler, Dataset, SequentialSampler

from mmmixmo.datasets.samplers import BatchRepeatSampler
from mmpretrain.registry import DATA_SAMPLERS


class IndexDataset(Dataset):
    """Dataset whose item ``i`` is ``i``."""

    def __init__(self, size: int):
        self.size = size

    def __len__(self):
        return self.size

    def __getitem__(self, idx):
        return idx


def test_repeats_consecutively():
    sampler = BatchRepeatSampler(
        SequentialSampler(range(6)), batch_size=4, num_repeats=2)
    assert list(sampler) == [[0, 0, 1, 1], [2, 2, 3, 3], [4, 4, 5, 5]]
    assert len(sampler) == 3
    assert isinstance(sampler, BatchSampler)
    assert sampler.batch_size == 4 and sampler.num_repeats == 2


def test_last_batch_and_drop_last():
    sampler = BatchRepeatSampler(range(5), batch_size=6, num_repeats=3)
    assert list(sampler) == [[0, 0, 0, 1, 1, 1], [2, 2, 2, 3, 3, 3], [4, 4, 4]]
    assert len(sampler) == 3
    sampler = BatchRepeatSampler(
        range(5), batch_size=6, num_repeats=3, drop_last=True)
    assert list(sampler) == [[0, 0, 0, 1, 1, 1], [2, 2, 2, 3, 3, 3]]
    assert len(sampler) == 2
    # exact length for a range of sizes
    for size in range(0, 13):
        for drop_last in (False, True):
            sampler = BatchRepeatSampler(
                range(size), batch_size=8, num_repeats=4, drop_last=drop_last)
            batches = list(sampler)
            assert len(sampler) == len(batches)
            flat = [i for batch in batches for i in batch]
            kept = size - size % 2 if drop_last else size
            assert flat == [i for i in range(kept) for _ in range(4)]


def test_num_repeats_one_is_plain_batch_sampler():
    for size, drop_last in [(10, False), (10, True), (12, False)]:
        ours = BatchRepeatSampler(
            range(size), batch_size=3, num_repeats=1, drop_last=drop_last)
        plain = BatchSampler(range(size), batch_size=3, drop_last=drop_last)
        assert list(ours) == list(plain)
        assert len(ours) == len(plain)


@pytest.mark.parametrize('batch_size,num_repeats', [(6, 4), (4, 0), (4, 2.0)])
def test_errors_name_the_keys(batch_size, num_repeats):
    with pytest.raises(
            ValueError,
            match=rf'train_dataloader\.batch_size \({batch_size}\).*'
            r'train_dataloader\.batch_sampler\.num_repeats'):
        BatchRepeatSampler(
            range(8), batch_size=batch_size, num_repeats=num_repeats)


def _train_dataloader_cfg(dataset, num_repeats=4, batch_size=8):
    return dict(
        dataset=dataset,
        batch_size=batch_size,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=True),
        batch_sampler=dict(type='BatchRepeatSampler', num_repeats=num_repeats),
        collate_fn=dict(type='default_collate'))


def test_registry_and_runner_build_dataloader_with_seed_hook():
    dataset = IndexDataset(16)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        assert DATA_SAMPLERS.get('BatchRepeatSampler') is BatchRepeatSampler
        loader = Runner.build_dataloader(
            _train_dataloader_cfg(dataset), seed=0)
    batch_sampler = loader.batch_sampler
    assert isinstance(batch_sampler, BatchRepeatSampler)
    assert batch_sampler.batch_size == 8 and batch_sampler.num_repeats == 4
    assert isinstance(batch_sampler.sampler, DefaultSampler)
    # 16 distinct images, 2 per batch of 8 slots -> 8 iterations per epoch.
    assert len(loader) == 8

    def one_epoch():
        batches = [batch.tolist() for batch in loader]
        assert len(batches) == 8
        for batch in batches:
            assert len(batch) == 8
            assert batch[0:4] == [batch[0]] * 4
            assert batch[4:8] == [batch[4]] * 4
        flat = [i for batch in batches for i in batch]
        assert Counter(flat) == {i: 4 for i in range(16)}
        return flat

    # What runner.train_loop.dataloader looks like to DistSamplerSeedHook.
    runner = SimpleNamespace(
        train_loop=SimpleNamespace(dataloader=loader), epoch=0)
    hook = DistSamplerSeedHook()
    hook.before_train_epoch(runner)
    assert batch_sampler.sampler.epoch == 0
    epoch0 = one_epoch()
    assert one_epoch() == epoch0  # same epoch -> same order
    runner.epoch = 1
    hook.before_train_epoch(runner)
    # The hook reaches the wrapped DefaultSampler through the batch sampler.
    assert batch_sampler.sampler.epoch == 1
    epoch1 = one_epoch()
    assert epoch1 != epoch0
    runner.epoch = 0
    hook.before_train_epoch(runner)
    assert one_epoch() == epoch0


def _rank_batches(monkeypatch, dataset, rank, world_size, num_repeats,
                  batch_size):
    monkeypatch.setattr(mmengine_sampler, 'get_dist_info', lambda:
                        (rank, world_size))
    sampler = DefaultSampler(dataset, shuffle=True, seed=3)
    assert sampler.rank == rank and sampler.world_size == world_size
    batch_sampler = BatchRepeatSampler(
        sampler, batch_size=batch_size, num_repeats=num_repeats)
    batches = list(batch_sampler)
    assert len(batches) == len(batch_sampler)
    return batches


@pytest.mark.parametrize('num_repeats', [2, 4])
def test_ddp_sharding(monkeypatch, num_repeats):
    dataset = IndexDataset(32)
    world_size, batch_size = 2, 8
    counts = Counter()
    for rank in range(world_size):
        batches = _rank_batches(monkeypatch, dataset, rank, world_size,
                                num_repeats, batch_size)
        plain = _rank_batches(monkeypatch, dataset, rank, world_size, 1,
                              batch_size)
        # 16 indices per rank: 2 batches at b=1, 2 * b batches at b.
        assert len(plain) == 2
        assert len(batches) == num_repeats * len(plain)
        for batch in batches:
            assert len(batch) == batch_size
            for start in range(0, batch_size, num_repeats):
                assert batch[start:start + num_repeats] == \
                    [batch[start]] * num_repeats
        # The repeated batches follow the rank's own shard in order.
        distinct = [i for batch in batches for i in batch[::num_repeats]]
        assert distinct == [i for batch in plain for i in batch]
        counts.update(i for batch in batches for i in batch)
    assert counts == {i: num_repeats for i in range(32)}
