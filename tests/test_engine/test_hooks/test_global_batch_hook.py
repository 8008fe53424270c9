from types import SimpleNamespace

import pytest
from mmcv.transforms import Compose
from mmengine.dataset import ConcatDataset

from mmmixmo.datasets.transforms import MemberViews
from mmmixmo.engine.hooks import GlobalBatchHook
from mmmixmo.engine.hooks.global_batch_hook import batch_repetition

FLIP = [dict(type='RandomFlip', prob=0.5)]


class Recorder:

    def __init__(self):
        self.infos, self.warnings = [], []

    def info(self, msg):
        self.infos.append(msg)

    def warning(self, msg):
        self.warnings.append(msg)


def _dataset(num_repeats=None):
    pipeline = [dict(type='LoadImageFromFile')]
    if num_repeats is not None:
        pipeline.append(
            MemberViews(FLIP, num_repeats=num_repeats, num_members=2))
    return SimpleNamespace(pipeline=Compose(pipeline))


def _runner(batch_size, num_repeats, auto_scale_lr, lr=0.1):
    group = dict(lr=lr * 1e-3, initial_lr=lr)  # a warm-up's first value
    return SimpleNamespace(
        train_dataloader=SimpleNamespace(
            batch_size=batch_size, dataset=_dataset(num_repeats)),
        optim_wrapper=SimpleNamespace(param_groups=[group]),
        auto_scale_lr=auto_scale_lr,
        logger=Recorder())


def test_batch_repetition_in_pipelines_and_wrappers():
    assert batch_repetition(_dataset(4)) == 4
    assert batch_repetition(_dataset()) == 1
    # a wrapper (dataset=...) and a concatenation (first data set's b)
    assert batch_repetition(SimpleNamespace(dataset=_dataset(3))) == 3
    concat = object.__new__(ConcatDataset)
    concat.datasets = [_dataset(2), _dataset()]
    assert batch_repetition(concat) == 2
    # MemberViews inside a wrapper transform (RandomApply's transforms)
    nested = SimpleNamespace(transforms=[MemberViews(FLIP, num_repeats=5)])
    assert batch_repetition(
        SimpleNamespace(pipeline=SimpleNamespace(transforms=[nested]))) == 5


def test_logs_images_slots_and_lr_per_slot():
    runner = _runner(32, 2, dict(base_batch_size=32), lr=0.2)
    GlobalBatchHook().before_train(runner)
    assert runner.logger.infos == [
        'GlobalBatchHook: global batch 32 images = 32 per process '
        '(train_dataloader.batch_size) x 1 processes; 64 slots (x b = 2); '
        'lr 0.2, 0.003125 per slot'
    ]
    assert runner.logger.warnings == []


def test_single_network_has_one_slot_per_image():
    runner = _runner(64, None, None, lr=0.128)
    GlobalBatchHook().before_train(runner)
    assert '64 slots (x b = 1); lr 0.128, 0.002 per slot' in \
        runner.logger.infos[0]
    assert runner.logger.warnings == []


def test_warns_when_batch_is_not_the_recipes_and_lr_unscaled():
    runner = _runner(32, 2, dict(base_batch_size=256, enable=False))
    GlobalBatchHook().before_train(runner)
    (warning, ) = runner.logger.warnings
    assert 'auto_scale_lr.base_batch_size = 256' in warning
    assert '--auto-scale-lr (lr x 32/256 = 0.0125)' in warning


def test_scaled_lr_is_said_not_warned():
    runner = _runner(32, 2, dict(base_batch_size=256, enable=True))
    GlobalBatchHook().before_train(runner)
    assert runner.logger.warnings == []
    assert 'lr scaled by 32/256 (--auto-scale-lr)' in runner.logger.infos[1]


@pytest.mark.parametrize('auto_scale_lr', [None, dict()])
def test_no_recipe_no_warning(auto_scale_lr):
    runner = _runner(8, 2, auto_scale_lr)
    GlobalBatchHook().before_train(runner)
    assert len(runner.logger.infos) == 1 and runner.logger.warnings == []
