"""Fixtures shared by the whole test suite."""
import os.path as osp
import random
from collections import OrderedDict

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from tests.utils.fake_cifar import make_fake_cifar10

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


@pytest.fixture(scope='session')
def repo_root() -> str:
    """Absolute path of the repository (the folder of setup.py)."""
    return REPO_ROOT


@pytest.fixture(scope='session')
def fake_cifar10_root(tmp_path_factory) -> str:
    """A fake CIFAR-10 (64 train / 32 test images) written once per session.

    Load it with ``dict(type='LocalCIFAR10', data_root=..., check_md5=False)``.
    Treat it as read-only.
    """
    return make_fake_cifar10(
        str(tmp_path_factory.mktemp('fake_cifar10')),
        num_train=64,
        num_test=32)


@pytest.fixture(autouse=True)
def isolate_default_scope():
    """Undo the default scopes that a test creates.

    mmengine's registries build from the most recently created
    :class:`~mmengine.registry.DefaultScope`; a ``Runner`` built without
    ``default_scope`` creates one named ``'mmengine'``, after which
    ``MODELS.build(dict(type='<mmpretrain or mmmixmo model>'))`` fails in
    every later test. This restores the scopes that existed before each test
    (as mmengine's ``DefaultScope.overwrite_default_scope`` does).
    """
    before = OrderedDict(DefaultScope._instance_dict)
    yield
    DefaultScope._instance_dict = before


@pytest.fixture(autouse=True)
def seed_everything():
    """Start every test from the same random state (torch, numpy, random).

    The statistical tests (mask areas, kappa moments, init std) then see
    the same draws whatever ran before them, so a pass is reproducible and
    no test depends on the order of the suite.
    """
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
    yield
