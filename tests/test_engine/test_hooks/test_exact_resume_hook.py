import functools
import random
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.runner import IterBasedTrainLoop, Runner
from mmpretrain.registry import HOOKS
from torch import nn
from torch.utils.data import Dataset

from mmmixmo.engine.hooks import ExactResumeHook, seed_generators, seed_worker


class Recorder:

    def __init__(self):
        self.infos, self.warnings = [], []

    def info(self, msg):
        self.infos.append(msg)

    def warning(self, msg):
        self.warnings.append(msg)


class Draws(Dataset):
    """Every item draws from numpy, python ``random`` and torch, as the
    augmentations of a pipeline do."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        return (index, int(np.random.randint(2**31)),
                random.getrandbits(31), int(torch.randint(2**31, ())))


def _loader(num_workers=2, persistent_workers=False, seed=0):
    """A train dataloader as the runner builds it (mmengine's default
    ``worker_init_fn`` with the seed)."""
    return Runner.build_dataloader(
        dict(
            batch_size=2,
            num_workers=num_workers,
            persistent_workers=persistent_workers,
            dataset=Draws(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate')),
        seed=seed)


def _fake_runner(loader=None, seed=0, epoch=0, iter=0, resume=False,
                 train_loop=None, model=None):
    return SimpleNamespace(
        train_dataloader=loader or _loader(num_workers=0),
        seed=seed,
        epoch=epoch,
        iter=iter,
        train_loop=train_loop,
        model=model or nn.BatchNorm1d(2),
        logger=Recorder(),
        _resume=resume)


def _draws():
    return (random.getrandbits(32), int(np.random.randint(2**31)),
            int(torch.randint(2**31, ())))


def _epoch(loader, runner, hook, epoch):
    """The draws of one epoch, in the order the loader yields them, after
    the hook and mmengine's DistSamplerSeedHook prepared it."""
    runner.epoch = epoch
    hook.before_train_epoch(runner)
    loader.sampler.set_epoch(epoch)
    return [tuple(map(int, item)) for batch in loader
            for item in zip(*batch)]


def test_seed_generators_formula():
    # words of SeedSequence([0, 3]): 0-1 python, 2-3 numpy, 4-5 torch.
    # Pinned: a new formula would make resumes of older checkpoints inexact.
    seed_generators(0, 3)
    assert torch.initial_seed() == 1716541085984759504
    assert _draws() == (2768974398, 116643738, 1970720273)
    words = [
        int(w) for w in np.random.SeedSequence([0, 3]).generate_state(
            6, np.uint32)
    ]
    assert words[4] | words[5] << 32 == 1716541085984759504
    seed_generators(0, 3)
    assert random.getstate() == random.Random(words[0]
                                              | words[1] << 32).getstate()
    np.testing.assert_array_equal(
        np.random.get_state()[1],
        np.random.RandomState(words[2:4]).get_state()[1])
    # python random and numpy (both MT19937) are not keyed alike
    assert random.random() != np.random.random_sample()


def test_seed_generators_differ_per_seed_and_epoch():
    draws = {}
    for entropy in [(0, 0), (0, 1), (1, 0), (0, 0), (-1, 0)]:
        seed_generators(*entropy)
        draws.setdefault(entropy, []).append(_draws())
    assert draws[(0, 0)][0] == draws[(0, 0)][1]
    firsts = [d[0] for d in draws.values()]
    assert len(set(firsts)) == 4
    # every generator changes, not only one
    for i in range(3):
        assert len({d[i] for d in firsts}) == 4


def test_before_train_epoch_reseeds_from_seed_and_epoch():
    hook = ExactResumeHook()
    runner = _fake_runner(seed=5, epoch=2)
    hook.before_train_epoch(runner)
    got = _draws()
    seed_generators(5, 2)
    assert got == _draws()
    # the runner's seed includes the rank (randomness.diff_rank_seed): rank
    # 1 of seed 4 is seed 5
    runner.seed = 6
    hook.before_train_epoch(runner)
    assert _draws() != got


def test_iteration_based_loop_reseeds_from_the_iteration():
    hook = ExactResumeHook()
    loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    runner = _fake_runner(seed=5, epoch=0, iter=40, train_loop=loop)
    hook.before_train_epoch(runner)
    got = _draws()
    seed_generators(5, 40)
    assert got == _draws()
    hook.before_train(runner)
    assert 'iteration-based loop is not bit-identical' in \
        runner.logger.warnings[0]


def test_mmengine_workers_replay_every_epoch_and_ours_do_not():
    loader = _loader()
    assert loader.worker_init_fn.func is mmengine_worker_init_fn
    runner = _fake_runner(loader)
    hook = ExactResumeHook()
    # mmengine's worker_init_fn: only the order of the images changes, each
    # worker draws the same numbers every epoch.
    epochs = [_epoch(loader, runner, hook, epoch) for epoch in (0, 1)]
    assert [i[0] for i in epochs[0]] != [i[0] for i in epochs[1]]
    assert [i[1:] for i in epochs[0]] == [i[1:] for i in epochs[1]]

    hook.before_train(runner)
    assert loader.worker_init_fn.func is seed_worker
    assert loader.worker_init_fn.keywords == dict(
        rank=0, disable_subprocess_warning=False)
    epochs = [_epoch(loader, runner, hook, epoch) for epoch in (0, 1, 0)]
    assert epochs[0] == epochs[2]  # a function of (seed, epoch)
    draws = [i[1:] for e in epochs[:2] for i in e]
    assert len(set(draws)) == len(draws) == 16  # no replay, nor repeats
    # another seed (or rank, with diff_rank_seed): other draws
    runner.seed = 1
    assert _epoch(loader, runner, hook, 0) != epochs[0]
    assert runner.logger.warnings == []


def test_seed_worker_depends_on_the_torch_seed_and_the_rank():
    draws = {}
    for torch_seed, rank in [(7, 0), (7, 1), (8, 0), (7, 0)]:
        torch.manual_seed(torch_seed)  # as torch seeds a worker
        seed_worker(0, rank)
        draws.setdefault((torch_seed, rank), []).append(_draws())
    assert draws[(7, 0)][0] == draws[(7, 0)][1]
    assert len({d[0] for d in draws.values()}) == 3
    seed_generators(7, 1)
    assert _draws() == draws[(7, 1)][0]


def test_worker_init_fn_options():
    # disable_subprocess_warning passes on
    loader = _loader()
    loader.worker_init_fn = functools.partial(
        mmengine_worker_init_fn, num_workers=2, rank=0, seed=0,
        disable_subprocess_warning=True)
    ExactResumeHook().before_train(_fake_runner(loader))
    assert loader.worker_init_fn.keywords['disable_subprocess_warning']
    # a worker_init_fn of the config is kept, with a warning
    loader = _loader()
    loader.worker_init_fn = custom = functools.partial(seed_worker, rank=3)
    runner = _fake_runner(loader)
    ExactResumeHook().before_train(runner)
    assert loader.worker_init_fn is custom
    assert 'worker_init_fn is set in the config' in runner.logger.warnings[0]
    # no workers: nothing to seed, the unused function stays
    loader = _loader(num_workers=0)
    ExactResumeHook().before_train(_fake_runner(loader))
    assert loader.worker_init_fn.func is mmengine_worker_init_fn


def test_resume_within_an_epoch_warns():
    # 4 iterations per epoch: iteration 8 ends epoch 2, 9 does not
    loader = _loader(num_workers=0)
    assert len(loader) == 4
    runner = _fake_runner(loader, epoch=2, iter=8)
    ExactResumeHook().before_train(runner)
    assert runner.logger.warnings == []
    runner.iter = 9
    ExactResumeHook().before_train(runner)
    assert runner.logger.warnings == [
        'ExactResumeHook: resumed at iteration 9, not at the end of epoch 2 '
        '(4 iterations per epoch): the resumed run is not bit-identical to '
        "the uninterrupted run (resume from an epoch's checkpoint)"
    ]


@pytest.mark.parametrize('persistent', [False, True])
def test_resume_with_persistent_workers_warns(persistent):
    runner = _fake_runner(
        _loader(persistent_workers=persistent), epoch=2, iter=8)
    ExactResumeHook().before_train(runner)
    if persistent:
        assert len(runner.logger.warnings) == 1
        assert 'train_dataloader.persistent_workers=False' in \
            runner.logger.warnings[0]
    else:
        assert runner.logger.warnings == []
    # a new run (iteration 0) says it before a crash, without a warning
    runner = _fake_runner(_loader(persistent_workers=True))
    ExactResumeHook().before_train(runner)
    assert runner.logger.warnings == []
    assert len(runner.logger.infos) == 1
    assert 'a resumed run starts new workers' in runner.logger.infos[0]


def test_sampler_seed_saved_and_restored_on_resume():
    hook = ExactResumeHook()
    saving = _fake_runner()
    assert isinstance(saving.train_dataloader.sampler, DefaultSampler)
    saving.train_dataloader.sampler.seed = 1234
    checkpoint = dict(meta=dict(epoch=2))
    hook.before_save_checkpoint(saving, checkpoint)
    assert checkpoint['meta'] == dict(epoch=2, sampler_seed=1234)

    # the sampler of a resumed run drew another seed before the resume
    resuming = _fake_runner(resume=True)
    sampler = resuming.train_dataloader.sampler
    sampler.seed = 99
    hook.after_load_checkpoint(resuming, checkpoint)
    assert sampler.seed == 1234
    assert resuming.logger.infos == [
        'ExactResumeHook: resumed the sampler seed 1234 of the checkpoint '
        '(this run had drawn 99)'
    ]
    sampler.set_epoch(2)
    want = DefaultSampler(Draws(), shuffle=True, seed=1234)
    want.set_epoch(2)
    assert list(sampler) == list(want)

    # load_from (a new run from the weights) keeps its own data order
    loading = _fake_runner(resume=False)
    loading.train_dataloader.sampler.seed = 99
    hook.after_load_checkpoint(loading, checkpoint)
    assert loading.train_dataloader.sampler.seed == 99


def test_resume_from_a_checkpoint_without_sampler_seed_warns():
    runner = _fake_runner(resume=True)
    runner.train_dataloader.sampler.seed = 99
    ExactResumeHook().after_load_checkpoint(runner, dict(meta=dict()))
    assert runner.train_dataloader.sampler.seed == 99
    assert 'no meta.sampler_seed' in runner.logger.warnings[0]


def test_buffers_untouched_on_one_process():
    model = nn.BatchNorm1d(2)
    model.running_mean += 1
    runner = _fake_runner(model=model)
    ExactResumeHook().after_train_epoch(runner)
    ExactResumeHook().before_val_epoch(runner)
    assert torch.equal(model.running_mean, torch.ones(2))


def test_registered_first():
    hook = HOOKS.build(dict(type='ExactResumeHook'))
    assert isinstance(hook, ExactResumeHook)
    assert hook.priority == 'HIGHEST'
