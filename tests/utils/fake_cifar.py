"""Write a small fake CIFAR-10/100 in the layout of the official archives.

The files are pickles of dicts with the keys of the official release
(``data`` as ``(N, 3072)`` uint8 rows in CHW order, ``labels`` or
``fine_labels``/``coarse_labels``, ``filenames``, ``batch_label``), so
mmpretrain's CIFAR loader reads them unchanged. Their md5 sums differ from the
official ones: load them with ``dict(type='LocalCIFAR10', check_md5=False)``
(see :mod:`mmmixmo.datasets.cifar`), which also never downloads.
"""
import os
import os.path as osp
import pickle
from typing import Dict, List

import numpy as np

CIFAR10_FOLDER = 'cifar-10-batches-py'
CIFAR100_FOLDER = 'cifar-100-python'
NUM_TRAIN_BATCHES = 5


def _images_and_labels(num: int, num_classes: int,
                       rng: np.random.Generator) -> Dict[str, np.ndarray]:
    """Random uint8 images ``(num, 3072)`` and balanced shuffled labels."""
    data = rng.integers(0, 256, size=(num, 3 * 32 * 32), dtype=np.uint8)
    labels = rng.permutation(np.arange(num) % num_classes)
    return dict(data=data, labels=labels)


def _dump(obj: dict, path: str) -> None:
    # Protocol 2 is the one of the official (Python 2) pickles.
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=2)


def make_fake_cifar10(data_root: str,
                      num_train: int = 64,
                      num_test: int = 32,
                      seed: int = 0) -> str:
    """Write a fake CIFAR-10 under ``data_root/cifar-10-batches-py``.

    The training images are spread over ``data_batch_1..5`` like the official
    50,000 (``np.array_split`` sizes); labels cycle over the 10 classes and
    are shuffled, so every class appears when ``num >= 10``.

    Args:
        data_root (str): Root folder, i.e. the ``data_root`` of the dataset
            config. Created if missing.
        num_train (int): Number of training images. Defaults to 64.
        num_test (int): Number of test images. Defaults to 32.
        seed (int): Seed of the random images and labels. Defaults to 0.

    Returns:
        str: ``data_root``.
    """
    rng = np.random.default_rng(seed)
    folder = osp.join(data_root, CIFAR10_FOLDER)
    os.makedirs(folder, exist_ok=True)
    train = _images_and_labels(num_train, 10, rng)
    chunks = np.array_split(np.arange(num_train), NUM_TRAIN_BATCHES)
    for i, idx in enumerate(chunks, start=1):
        _dump(
            dict(
                batch_label=f'training batch {i} of {NUM_TRAIN_BATCHES}',
                labels=train['labels'][idx].tolist(),
                data=train['data'][idx],
                filenames=[f'fake_train_{j:05d}.png' for j in idx]),
            osp.join(folder, f'data_batch_{i}'))
    test = _images_and_labels(num_test, 10, rng)
    _dump(
        dict(
            batch_label='testing batch 1 of 1',
            labels=test['labels'].tolist(),
            data=test['data'],
            filenames=[f'fake_test_{j:05d}.png' for j in range(num_test)]),
        osp.join(folder, 'test_batch'))
    _dump(
        dict(
            num_cases_per_batch=max(len(c) for c in chunks),
            label_names=[f'class{k}' for k in range(10)],
            num_vis=3 * 32 * 32), osp.join(folder, 'batches.meta'))
    return data_root


def make_fake_cifar100(data_root: str,
                       num_train: int = 200,
                       num_test: int = 100,
                       seed: int = 0) -> str:
    """Write a fake CIFAR-100 under ``data_root/cifar-100-python``.

    Fine labels cycle over the 100 classes (shuffled); the coarse label of
    fine class ``k`` is ``k // 5``.

    Args:
        data_root (str): Root folder, i.e. the ``data_root`` of the dataset
            config. Created if missing.
        num_train (int): Number of training images. Defaults to 200.
        num_test (int): Number of test images. Defaults to 100.
        seed (int): Seed of the random images and labels. Defaults to 0.

    Returns:
        str: ``data_root``.
    """
    rng = np.random.default_rng(seed)
    folder = osp.join(data_root, CIFAR100_FOLDER)
    os.makedirs(folder, exist_ok=True)
    for split, num in (('train', num_train), ('test', num_test)):
        part = _images_and_labels(num, 100, rng)
        fine: List[int] = part['labels'].tolist()
        _dump(
            dict(
                filenames=[f'fake_{split}_{j:05d}.png' for j in range(num)],
                batch_label=f'{split}ing batch 1 of 1',
                fine_labels=fine,
                coarse_labels=[k // 5 for k in fine],
                data=part['data']), osp.join(folder, split))
    _dump(
        dict(
            fine_label_names=[f'fine{k}' for k in range(100)],
            coarse_label_names=[f'coarse{k}' for k in range(20)]),
        osp.join(folder, 'meta'))
    return data_root
