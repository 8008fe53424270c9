"""Reseed every generator at each epoch, so that ``--resume`` is exact."""
import functools
import random
import warnings
from typing import Optional

import numpy as np
import torch
from mmengine.dataset import worker_init_fn as mmengine_worker_init_fn
from mmengine.dist import broadcast, get_rank
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop
from mmpretrain.registry import HOOKS

SAMPLER_SEED_KEY = 'sampler_seed'  # in the checkpoints' meta


def seed_generators(*entropy: int) -> None:
    """Seed python ``random``, numpy's global generator and torch from
    ``entropy``.

    ``numpy.random.SeedSequence(entropy)`` draws six 32-bit words: words 0-1
    seed ``random``, 2-3 numpy, 4-5 torch (``torch.manual_seed`` also seeds
    every CUDA device). Note: ``random`` and numpy both run MT19937, so one
    key for both would make them draw the same numbers.

    Args:
        *entropy (int): Integers, e.g. the seed and the epoch; negative ones
            are taken modulo 2**64.
    """
    words = np.random.SeedSequence([int(e) % 2**64 for e in entropy
                                    ]).generate_state(6, np.uint32)
    words = [int(w) for w in words]
    random.seed(words[0] | words[1] << 32)
    np.random.seed(words[2:4])
    torch.manual_seed(words[4] | words[5] << 32)


def seed_worker(worker_id: int,
                rank: int,
                disable_subprocess_warning: bool = False) -> None:
    """``worker_init_fn`` of the train dataloader: reseed the worker from its
    torch seed and the rank.

    torch seeds worker ``i`` with ``base_seed + i``, where ``base_seed`` is
    drawn from the main process's torch generator each time the dataloader
    starts its workers: with the generators reseeded per epoch by
    :class:`ExactResumeHook`, every epoch gets new, reproducible streams
    (mmengine's default ``worker_init_fn`` seeds from constants, so that
    non-persistent workers replay the same draws every epoch). The rank
    keeps the ranks' streams apart even when their main generators agree
    (``randomness.diff_rank_seed=False``).

    Args:
        worker_id (int): Index of the worker, in ``[0, num_workers)``.
        rank (int): Global rank of the process that owns the dataloader.
        disable_subprocess_warning (bool): Silence warnings in every worker
            but worker 0, as mmengine's option of that name. Defaults to
            False.
    """
    seed_generators(torch.initial_seed(), rank)
    if disable_subprocess_warning and worker_id != 0:
        warnings.simplefilter('ignore')


def _seeded_sampler(loader) -> Optional[object]:
    """The sampler of ``loader`` that has a ``seed`` attribute, if any."""
    batch_sampler = getattr(loader, 'batch_sampler', None)
    for sampler in (getattr(loader, 'sampler', None),
                    getattr(batch_sampler, 'sampler', None)):
        if hasattr(sampler, 'seed'):
            return sampler
    return None


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Make a run resumed from an epoch's checkpoint continue exactly.

    mmengine's checkpoints hold the model, optimizer, schedulers, epoch and
    seed, but not the random state, so a resumed run draws other
    augmentations, pairings and mixing than the uninterrupted run. This
    hook makes every draw of an epoch a function of the seed, the epoch
    and the checkpointed state:

    - before every training epoch it seeds python ``random``, numpy's
      global generator and torch from ``(runner.seed, epoch)`` with
      :func:`seed_generators` (``runner.seed`` includes the rank when
      ``randomness.diff_rank_seed=True``); what runs in between, such as
      validation, no longer shifts the training draws;
    - it replaces mmengine's default ``worker_init_fn`` of the train
      dataloader by :func:`seed_worker` (new streams every epoch);
    - it writes the train sampler's seed into ``meta['sampler_seed']`` of
      the checkpoints and restores it on resume: the sampler is built, and
      draws a new seed when ``randomness.seed`` is None or
      ``diff_rank_seed=True``, before the checkpoint is loaded;
    - after every training epoch (before the checkpoint is saved) and
      before validation it copies rank 0's buffers (batch-norm statistics)
      to the other ranks: without it each rank keeps its own statistics,
      the checkpoint holds rank 0's only, so the ranks validate other
      models than the saved one and a resumed rank continues from other
      statistics than it had.

    On CPU a run killed after an epoch's checkpoint and resumed then gives
    bit-identical losses, weights and metrics. It warns when a resume
    cannot be exact: with persistent dataloader workers (their streams
    restart with the resumed run), from a checkpoint saved within an epoch,
    and in iteration-based loops (reseeded once, at the start, from the
    iteration; mmengine replays the skipped batches).
    """

    priority = 'HIGHEST'  # reseed before other hooks draw, sync before saving

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        resumed = runner.iter > 0
        if loader.num_workers > 0:
            self._replace_worker_init_fn(runner, loader)
            if loader.persistent_workers:  # said before a crash, too
                log = runner.logger.warning if resumed else runner.logger.info
                log('ExactResumeHook: train_dataloader.persistent_workers='
                    'True: a resumed run starts new workers, whose '
                    'augmentations differ from those the uninterrupted run '
                    'would have drawn, so it is not bit-identical to it. '
                    'For exact resumes train with train_dataloader.'
                    'persistent_workers=False (tools/train.py '
                    '--no-persistent-workers)')
        if not resumed:
            return
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            runner.logger.warning(
                'ExactResumeHook: a resumed iteration-based loop is not '
                'bit-identical to the uninterrupted run; exact resumes need '
                'an epoch-based loop (train_cfg.by_epoch=True)')
        elif runner.iter != runner.epoch * len(loader):
            runner.logger.warning(
                f'ExactResumeHook: resumed at iteration {runner.iter}, not '
                f'at the end of epoch {runner.epoch} ({len(loader)} '
                'iterations per epoch): the resumed run is not bit-identical '
                'to the uninterrupted run (resume from an epoch\'s '
                'checkpoint)')

    @staticmethod
    def _replace_worker_init_fn(runner, loader) -> None:
        init_fn = loader.worker_init_fn
        if isinstance(init_fn, functools.partial) and \
                init_fn.func is mmengine_worker_init_fn:
            quiet = init_fn.keywords.get('disable_subprocess_warning', False)
        elif init_fn is None:
            quiet = False
        else:
            runner.logger.warning(
                'ExactResumeHook: train_dataloader.worker_init_fn is set in '
                'the config: kept, so the workers draw from what it seeds '
                '(the same streams every epoch if it seeds from constants)')
            return
        loader.worker_init_fn = functools.partial(
            seed_worker, rank=get_rank(), disable_subprocess_warning=quiet)

    def before_train_epoch(self, runner) -> None:
        # An iteration-based loop calls this once: its iteration tells a
        # resumed run from a new one.
        step = runner.iter if isinstance(runner.train_loop,
                                         IterBasedTrainLoop) else runner.epoch
        seed_generators(runner.seed, step)

    def after_train_epoch(self, runner) -> None:
        self._broadcast_buffers(runner)

    def before_val_epoch(self, runner) -> None:
        self._broadcast_buffers(runner)

    @staticmethod
    def _broadcast_buffers(runner) -> None:
        # rank 0's, as the checkpoint (and PyTorch DDP's broadcast_buffers);
        # averaging, as mmengine's SyncBuffersHook, would alter the buffers
        # that agree (1 ulp on 3 ranks), non-persistent ones included.
        for buffer in runner.model.buffers():
            broadcast(buffer, src=0)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        sampler = _seeded_sampler(runner.train_dataloader)
        if sampler is not None:
            checkpoint.setdefault('meta', {})[SAMPLER_SEED_KEY] = sampler.seed

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # `load_from` without `resume` starts a new run: keep its sampler.
        if not getattr(runner, '_resume', False):
            return
        sampler = _seeded_sampler(runner.train_dataloader)
        if sampler is None:
            return
        seed = checkpoint.get('meta', {}).get(SAMPLER_SEED_KEY)
        if seed is None:
            runner.logger.warning(
                'ExactResumeHook: the checkpoint has no meta.sampler_seed '
                '(saved without this hook): the resumed epochs shuffle with '
                f'the sampler seed {sampler.seed}, not necessarily the '
                'interrupted run\'s')
        elif seed != sampler.seed:
            runner.logger.info(
                f'ExactResumeHook: resumed the sampler seed {seed} of the '
                f'checkpoint (this run had drawn {sampler.seed})')
            sampler.seed = seed
