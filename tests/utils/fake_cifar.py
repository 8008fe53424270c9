"""Write a small fake CIFAR-10/100 in the pickle layout of the official
archives; load it with ``dict(type='LocalCIFAR10', check_md5=False)``."""
import os
import os.path as osp
import pickle

import numpy as np


def _images_and_labels(num: int, num_classes: int, rng: np.random.Generator):
    """Random uint8 rows ``(num, 3072)`` and balanced shuffled labels."""
    data = rng.integers(0, 256, size=(num, 3 * 32 * 32), dtype=np.uint8)
    return data, rng.permutation(np.arange(num) % num_classes)


def _dump(obj: dict, folder: str, name: str) -> None:
    with open(osp.join(folder, name), 'wb') as f:
        pickle.dump(obj, f, protocol=2)  # that of the official pickles


def make_fake_cifar10(data_root: str,
                      num_train: int = 64,
                      num_test: int = 32,
                      seed: int = 0) -> str:
    """Write ``data_root/cifar-10-batches-py``; returns ``data_root``.

    The train images are spread over ``data_batch_1..5`` as
    ``np.array_split`` does; labels cycle over the 10 classes, shuffled.
    """
    rng = np.random.default_rng(seed)
    folder = osp.join(data_root, 'cifar-10-batches-py')
    os.makedirs(folder, exist_ok=True)
    data, labels = _images_and_labels(num_train, 10, rng)
    chunks = np.array_split(np.arange(num_train), 5)
    for i, idx in enumerate(chunks, start=1):
        _dump(
            dict(
                batch_label=f'training batch {i} of 5',
                labels=labels[idx].tolist(),
                data=data[idx],
                filenames=[f'fake_train_{j:05d}.png' for j in idx]), folder,
            f'data_batch_{i}')
    data, labels = _images_and_labels(num_test, 10, rng)
    _dump(
        dict(
            batch_label='testing batch 1 of 1',
            labels=labels.tolist(),
            data=data,
            filenames=[f'fake_test_{j:05d}.png' for j in range(num_test)]),
        folder, 'test_batch')
    _dump(
        dict(
            num_cases_per_batch=max(len(c) for c in chunks),
            label_names=[f'class{k}' for k in range(10)],
            num_vis=3 * 32 * 32), folder, 'batches.meta')
    return data_root


def make_fake_cifar100(data_root: str,
                       num_train: int = 200,
                       num_test: int = 100,
                       seed: int = 0) -> str:
    """Write ``data_root/cifar-100-python``; returns ``data_root``.

    Fine labels cycle over the 100 classes, shuffled; the coarse label of
    fine class ``k`` is ``k // 5``.
    """
    rng = np.random.default_rng(seed)
    folder = osp.join(data_root, 'cifar-100-python')
    os.makedirs(folder, exist_ok=True)
    for split, num in (('train', num_train), ('test', num_test)):
        data, labels = _images_and_labels(num, 100, rng)
        _dump(
            dict(
                filenames=[f'fake_{split}_{j:05d}.png' for j in range(num)],
                batch_label=f'{split}ing batch 1 of 1',
                fine_labels=labels.tolist(),
                coarse_labels=[k // 5 for k in labels.tolist()],
                data=data), folder, split)
    _dump(
        dict(
            fine_label_names=[f'fine{k}' for k in range(100)],
            coarse_label_names=[f'coarse{k}' for k in range(20)]), folder,
        'meta')
    return data_root
