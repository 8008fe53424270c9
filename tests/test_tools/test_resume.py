"""A run killed after an epoch and resumed with ``--resume`` is bit-identical
to the uninterrupted run (``ExactResumeHook``), through the real tools.

Each test trains a config for 3 epochs uninterrupted, trains it again with
a test hook (``tests/utils/resume_probe.py``) that SIGKILLs every process
right after the checkpoint of epoch 1, as ``kill -9`` would, resumes that
work dir with ``--resume``, and compares the exact losses of every iteration
(``repr`` of the float), the final weights (``torch.equal``) and the
validation metrics. The probe is loaded through a config that inherits the
real one, with ``PYTHONPATH`` set to the repository.
"""
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import time
from typing import List, Optional

import torch

from tests.conftest import REPO_ROOT
from tests.test_tools.test_e2e import (TOOLS, _data_options, _env, _free_port,
                                       _load)
from tests.utils.resume_probe import read_losses, read_metrics

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'cut-mixmo_wrn16-1_1xb64-b2_digits.py')
TINY = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_cifar10.py')
EPOCHS = 3
KILL_AFTER = 1
# The quickstart on 128 training images (4 steps of 32 images x b = 2) and
# 60 test images, with a WRN-10-1, for 3 of its 12 epochs.
SMALL_QUICKSTART = [
    'train_dataloader.dataset.indices=128',
    'val_dataloader.dataset.indices=60', 'model.backbone.depth=10',
    f'train_cfg.max_epochs={EPOCHS}'
]


def _probe_config(tmp_path, base: str) -> str:
    """A config that inherits ``base`` and adds the probe hook."""
    path = str(tmp_path / f'probe_{osp.basename(base)}')
    with open(path, 'w') as f:
        f.write(f'_base_ = [{base!r}]\n'
                "custom_imports = dict(imports=['mmmixmo', "
                "'tests.utils.resume_probe'], allow_failed_imports=False)\n"
                "default_hooks = dict(probe=dict(type='ResumeProbeHook', "
                "out_dir='unset'))\n")
    return path


def _train(config: str,
           work_dir: str,
           options: List[str],
           procs: int = 1,
           resume: bool = False,
           kill_after: Optional[int] = None) -> str:
    """``tools/train.py`` (``tools/dist_train.sh`` for ``procs`` > 1) with
    the probe writing to ``work_dir/probe``; returns the output."""
    options = [*options, f'default_hooks.probe.out_dir={work_dir}/probe']
    if kill_after is not None:
        options.append(f'default_hooks.probe.kill_after_epoch={kill_after}')
    tool_args = [
        config, '--work-dir', work_dir, *(['--resume'] if resume else []),
        '--cfg-options', *options
    ]
    if procs == 1:
        args = [sys.executable, osp.join(TOOLS, 'train.py'), *tool_args]
    else:
        args = ['bash', osp.join(TOOLS, 'dist_train.sh'), tool_args[0],
                str(procs), *tool_args[1:]]
    start = time.time()
    proc = subprocess.run(
        args,
        cwd=osp.dirname(work_dir),
        env=dict(_env(), PYTHONPATH=REPO_ROOT, PORT=_free_port()),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300)
    print(f'{osp.basename(work_dir)} resume={resume} kill={kill_after}: '
          f'{time.time() - start:.1f} s')
    if kill_after is None:
        expected = 0
    else:  # the process itself, or torchrun's report of its killed workers
        expected = -signal.SIGKILL if procs == 1 else 1
    assert proc.returncode == expected, (
        f'{args} exited with {proc.returncode}:\n{proc.stdout[-6000:]}')
    if kill_after is not None and procs > 1:
        assert proc.stdout.count('Signal 9 (SIGKILL) received') == procs
    return proc.stdout


def _assert_resumed_is_uninterrupted(uninterrupted: str,
                                     resumed: str,
                                     resumed_output: str,
                                     iters_per_epoch: int,
                                     ranks: int = 1) -> None:
    assert 'Auto resumed from the latest checkpoint ' \
        f'{resumed}/epoch_{KILL_AFTER}.pth' in resumed_output
    assert f'resumed epoch: {KILL_AFTER}, ' \
        f'iter: {KILL_AFTER * iters_per_epoch}' in resumed_output
    assert f'Epoch(train) [{KILL_AFTER}]' not in resumed_output
    assert 'WARNING - ExactResumeHook' not in resumed_output

    for rank in range(ranks):
        expected = read_losses(osp.join(uninterrupted, 'probe'), rank)
        assert len(expected) == EPOCHS * iters_per_epoch
        # the interrupted run's losses, then the resumed run's, exactly
        assert read_losses(osp.join(resumed, 'probe'), rank) == expected
    # validations of epochs 2 and 3 (the killed run never validated)
    assert read_metrics(osp.join(resumed, 'probe')) == read_metrics(
        osp.join(uninterrupted, 'probe'))[KILL_AFTER:]

    ckpt = f'epoch_{EPOCHS}.pth'
    want = _load(osp.join(uninterrupted, ckpt))
    got = _load(osp.join(resumed, ckpt))
    assert want['state_dict'].keys() == got['state_dict'].keys()
    for key, value in want['state_dict'].items():
        assert torch.equal(got['state_dict'][key], value), key
    for key in ('seed', 'sampler_seed', 'epoch', 'iter'):
        assert got['meta'][key] == want['meta'][key], key


def _assert_killed_after_checkpoint(output: str,
                                    iters_per_epoch: int) -> None:
    """The run died right after saving epoch 1, before validating it."""
    assert f'Epoch(train) [{KILL_AFTER}][{iters_per_epoch}/' in output
    assert f'Saving checkpoint at {KILL_AFTER} epochs' in output
    assert f'Epoch(train) [{KILL_AFTER + 1}]' not in output
    assert 'Epoch(val)' not in output


def test_quickstart_killed_and_resumed_is_uninterrupted(tmp_path):
    """Cut-MixMo quickstart, augmentations drawn in the main process."""
    config = _probe_config(tmp_path, QUICKSTART)
    resumed, uninterrupted = (str(tmp_path / 'resumed'),
                              str(tmp_path / 'uninterrupted'))
    _train(config, uninterrupted, SMALL_QUICKSTART)
    killed_output = _train(
        config, resumed, SMALL_QUICKSTART, kill_after=KILL_AFTER)
    _assert_killed_after_checkpoint(killed_output, iters_per_epoch=4)
    resumed_output = _train(config, resumed, SMALL_QUICKSTART, resume=True)
    _assert_resumed_is_uninterrupted(
        uninterrupted, resumed, resumed_output, iters_per_epoch=4)
    assert _load(osp.join(resumed, 'epoch_1.pth'))['meta']['seed'] == 0


def test_quickstart_with_workers_and_no_seed_resumes_exactly(tmp_path):
    """The quickstart with 2 non-persistent dataloader workers and
    ``randomness.seed=None``: every run draws its seeds, the resumed one
    must take the checkpoint's seed and sampler seed. The interruption
    here is the uninterrupted run's work dir as the kill after epoch 1
    leaves it (one training run less than a kill)."""
    config = _probe_config(tmp_path, QUICKSTART)
    options = [
        *SMALL_QUICKSTART, 'randomness.seed=None',
        'train_dataloader.num_workers=2',
        'train_dataloader.persistent_workers=False'
    ]
    resumed, uninterrupted = (str(tmp_path / 'resumed'),
                              str(tmp_path / 'uninterrupted'))
    _train(config, uninterrupted, options)
    os.makedirs(osp.join(resumed, 'probe'))
    shutil.copy(osp.join(uninterrupted, 'epoch_1.pth'), resumed)
    with open(osp.join(resumed, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(resumed, 'epoch_1.pth'))
    with open(osp.join(resumed, 'probe', 'losses_rank0.txt'), 'w') as f:
        f.writelines(line + '\n' for line in read_losses(
            osp.join(uninterrupted, 'probe'))[:4])
    resumed_output = _train(config, resumed, options, resume=True)
    # it had drawn another sampler seed
    assert 'ExactResumeHook: resumed the sampler seed' in resumed_output
    _assert_resumed_is_uninterrupted(
        uninterrupted, resumed, resumed_output, iters_per_epoch=4)


def test_dist_train_killed_and_resumed_is_uninterrupted(
        tmp_path, fake_cifar10_root):
    """2 CPU processes (gloo) of the tiny Cut-MixMo, 4 steps per rank and
    epoch; the ranks draw different augmentations and mixing."""
    config = _probe_config(tmp_path, TINY)
    options = [*_data_options(fake_cifar10_root), f'train_cfg.max_epochs='
               f'{EPOCHS}']
    resumed, uninterrupted = (str(tmp_path / 'resumed'),
                              str(tmp_path / 'uninterrupted'))
    _train(config, uninterrupted, options, procs=2)
    killed_output = _train(
        config, resumed, options, procs=2, kill_after=KILL_AFTER)
    _assert_killed_after_checkpoint(killed_output, iters_per_epoch=4)
    resumed_output = _train(config, resumed, options, procs=2, resume=True)
    _assert_resumed_is_uninterrupted(
        uninterrupted, resumed, resumed_output, iters_per_epoch=4, ranks=2)
    probe = osp.join(uninterrupted, 'probe')
    assert read_losses(probe, 0) != read_losses(probe, 1)
