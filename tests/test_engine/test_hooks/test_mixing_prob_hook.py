import uuid
from types import SimpleNamespace

import pytest
import torch
from mmengine.logging import MessageHub
from mmengine.model import BaseModel
from mmengine.runner import IterBasedTrainLoop, Runner
from mmpretrain.registry import HOOKS
from torch import nn
from torch.utils.data import DataLoader

from mmmixmo.engine.hooks import MixingProbHook, mixing_prob_factor
from mmmixmo.models.necks import CutOrLinearMixing, LinearMixing


class InfoRecorder:

    def __init__(self):
        self.lines = []

    def info(self, msg):
        self.lines.append(msg)


class ToyMixMo(nn.Module):

    def __init__(self, prob=0.5):
        super().__init__()
        self.mixing = CutOrLinearMixing(num_members=2, prob=prob)
        self.fc = nn.Linear(2, 2)


def _fake_runner(model, epoch, max_epochs=300):
    return SimpleNamespace(
        model=model,
        epoch=epoch,
        max_epochs=max_epochs,
        train_loop=None,
        logger=InfoRecorder(),
        message_hub=MessageHub(f'test_mixing_prob_{uuid.uuid4().hex}'))


def test_factor_schedule_300_epochs():

    def p(epoch):
        return 0.5 * mixing_prob_factor(epoch, 300, 1 / 12)

    assert p(1) == 0.5
    assert p(150) == 0.5
    assert p(275) == 0.5
    assert p(276) == pytest.approx(0.48, abs=1e-12)
    assert p(299) == pytest.approx(0.02, abs=1e-12)
    assert p(300) == 0.0
    values = [p(e) for e in range(1, 301)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    # linear: constant step of 0.02 per epoch from 275 on
    steps = [a - b for a, b in zip(values[274:], values[275:])]
    assert steps == pytest.approx([0.02] * 25, abs=1e-12)


def test_factor_schedule_1200_epochs():
    assert mixing_prob_factor(1100, 1200, 1 / 12) == 1.0
    assert mixing_prob_factor(1101, 1200, 1 / 12) == pytest.approx(0.99)
    assert mixing_prob_factor(1199, 1200, 1 / 12) == pytest.approx(0.01)
    assert mixing_prob_factor(1200, 1200, 1 / 12) == 0.0


@pytest.mark.parametrize('fraction', [0, -0.1, 1.5])
def test_decay_fraction_error_names_the_key(fraction):
    with pytest.raises(ValueError, match='MixingProbHook.decay_fraction'):
        MixingProbHook(decay_fraction=fraction)


def test_registered():
    hook = HOOKS.build(dict(type='MixingProbHook', decay_fraction=0.25))
    assert isinstance(hook, MixingProbHook)
    assert hook.decay_fraction == 0.25


def test_resume_at_epoch_276_without_prior_calls():
    """A fresh hook after resuming: runner.epoch = 275 means epoch 276."""
    model = ToyMixMo()
    model.mixing.prob_factor = 1.0  # as built from the config
    runner = _fake_runner(model, epoch=275)
    MixingProbHook().before_train_epoch(runner)
    assert model.mixing.prob_factor == pytest.approx(0.96)
    assert model.mixing.prob * model.mixing.prob_factor == pytest.approx(0.48)
    assert len(runner.logger.lines) == 1
    assert '0.4800' in runner.logger.lines[0]
    assert '276/300' in runner.logger.lines[0]
    scalar = runner.message_hub.get_scalar('train/mixing_prob')
    assert scalar.current() == pytest.approx(0.48)


def test_every_epoch_is_recomputed():
    model = ToyMixMo()
    hook = MixingProbHook()
    runner = _fake_runner(model, epoch=0)
    seen = []
    for epoch in (0, 274, 275, 298, 299, 0):  # 0-indexed, in any order
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        seen.append(model.mixing.prob * model.mixing.prob_factor)
    assert seen == pytest.approx([0.5, 0.5, 0.48, 0.02, 0.0, 0.5])
    history = runner.message_hub.get_scalar('train/mixing_prob')
    assert list(history.data[0]) == pytest.approx(seen)
    assert len(runner.logger.lines) == len(seen)


def test_wrapped_model_and_several_blocks():
    model = ToyMixMo(prob=0.5)
    model.extra = CutOrLinearMixing(num_members=2, prob=1.0)
    runner = _fake_runner(nn.DataParallel(model), epoch=298)
    MixingProbHook().before_train_epoch(runner)
    assert model.mixing.prob * model.mixing.prob_factor == pytest.approx(0.02)
    assert model.extra.prob * model.extra.prob_factor == pytest.approx(0.04)
    hub = runner.message_hub
    assert hub.get_scalar('train/mixing_prob/mixing').current() == \
        pytest.approx(0.02)
    assert hub.get_scalar('train/mixing_prob/extra').current() == \
        pytest.approx(0.04)


def test_model_without_cut_or_linear_mixing():
    model = nn.Sequential(LinearMixing(), nn.Linear(2, 2))
    runner = _fake_runner(model, epoch=0)
    with pytest.raises(
            ValueError, match='remove it from custom_hooks'):
        MixingProbHook().before_train_epoch(runner)


def test_iteration_based_training_is_refused():
    runner = _fake_runner(ToyMixMo(), epoch=0)
    runner.train_loop = IterBasedTrainLoop.__new__(IterBasedTrainLoop)
    with pytest.raises(ValueError, match='epoch-based'):
        MixingProbHook().before_train_epoch(runner)


class RecordingModel(BaseModel):
    """Records the probability the mixing block sees at every step."""

    def __init__(self):
        super().__init__()
        self.mixing = CutOrLinearMixing(num_members=2, prob=0.5)
        self.fc = nn.Linear(4, 1)
        self.seen = []

    def forward(self, inputs, data_samples=None, mode='tensor'):
        self.seen.append(self.mixing.prob * self.mixing.prob_factor)
        mixed, _ = self.mixing([inputs, inputs])
        out = self.fc(mixed.flatten(1))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return out


def _runner(work_dir, max_epochs, load_from=None):
    data = [dict(inputs=torch.randn(1, 2, 2)) for _ in range(2)]
    return Runner(
        model=RecordingModel(),
        work_dir=str(work_dir),
        experiment_name=f'mixing_prob_{uuid.uuid4().hex}',
        train_dataloader=DataLoader(data, batch_size=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        custom_hooks=[MixingProbHook(decay_fraction=0.5)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        resume=load_from is not None,
        load_from=load_from,
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        default_scope='mmpretrain',
        log_level='WARNING')


def test_with_runner_and_resume(tmp_path):
    # E = 4, decay over the last 2 epochs: factors 1, 1, 0.5, 0
    runner = _runner(tmp_path, max_epochs=4)
    runner.train()
    assert runner.model.seen == pytest.approx([0.5, 0.5, 0.25, 0.0])

    # resume the same run from the end of epoch 2 with a fresh hook
    checkpoint = tmp_path / 'epoch_2.pth'
    assert checkpoint.is_file()
    resumed = _runner(
        tmp_path / 'resume', max_epochs=4, load_from=str(checkpoint))
    resumed.train()
    assert resumed.model.seen == pytest.approx([0.25, 0.0])
