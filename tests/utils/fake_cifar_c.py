"""Write a small fake CIFAR-10-C / CIFAR-100-C in the published layout.

Like the archives of Hendrycks & Dietterich (2019): ``labels.npy`` of shape
``(5 * num_images,)`` uint8 (the test labels repeated for the 5 severities)
and one ``<corruption>.npy`` of shape ``(5 * num_images, 32, 32, 3)`` uint8
per corruption, severity-major. Load it with
``dict(type='CIFARC', data_root=..., cifar='cifar10')`` (see
:mod:`mmmixmo.datasets.cifar_c`).
"""
import os
import os.path as osp
from typing import Optional, Sequence

import numpy as np

from mmmixmo.datasets.cifar_c import BENCHMARK_CORRUPTIONS, NUM_SEVERITIES


def make_fake_cifar_c(data_root: str,
                      num_images: int = 4,
                      corruptions: Optional[Sequence[str]] = None,
                      num_classes: int = 10,
                      seed: int = 0) -> str:
    """Write a fake CIFAR-C with random images under ``data_root``.

    The ``num_images`` "clean test images" get labels cycling over the
    classes, shuffled; ``labels.npy`` repeats them for each severity. Every
    image of every corruption file is independent uniform noise, so no two
    rows are equal.

    Args:
        data_root (str): Folder to write ``labels.npy`` and the corruption
            files to (the ``data_root`` of the dataset config). Created if
            missing.
        num_images (int): Images per severity (10000 in the real archives).
            Defaults to 4.
        corruptions (Sequence[str], optional): Names of the corruption files
            to write. Defaults to None, i.e. the 15 benchmark corruptions
            (what ``corruptions='all'`` reads).
        num_classes (int): Labels lie in ``[0, num_classes)``. Labels of a
            10-class fake are valid for ``cifar='cifar100'`` too.
            Defaults to 10.
        seed (int): Seed of the random images and labels. Defaults to 0.

    Returns:
        str: ``data_root``.
    """
    if corruptions is None:
        corruptions = BENCHMARK_CORRUPTIONS
    rng = np.random.default_rng(seed)
    os.makedirs(data_root, exist_ok=True)
    labels = rng.permutation(np.arange(num_images) % num_classes)
    np.save(
        osp.join(data_root, 'labels.npy'),
        np.tile(labels, NUM_SEVERITIES).astype(np.uint8))
    for corruption in corruptions:
        images = rng.integers(
            0,
            256,
            size=(NUM_SEVERITIES * num_images, 32, 32, 3),
            dtype=np.uint8)
        np.save(osp.join(data_root, f'{corruption}.npy'), images)
    return data_root
