"""Write a small fake CIFAR-10-C / CIFAR-100-C in the published layout."""
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
    """Write ``labels.npy`` and uniform-noise ``<corruption>.npy`` files.

    Args:
        data_root (str): Folder to write to (created if missing).
        num_images (int): Images per severity. Defaults to 4.
        corruptions (Sequence[str], optional): Files to write. Defaults to
            None: the 15 benchmark corruptions.
        num_classes (int): Labels cycle over ``[0, num_classes)``, shuffled.
            Defaults to 10.
        seed (int): Seed of the images and labels. Defaults to 0.

    Returns:
        str: ``data_root``.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(data_root, exist_ok=True)
    labels = rng.permutation(np.arange(num_images) % num_classes)
    np.save(
        osp.join(data_root, 'labels.npy'),
        np.tile(labels, NUM_SEVERITIES).astype(np.uint8))
    if corruptions is None:
        corruptions = BENCHMARK_CORRUPTIONS
    for corruption in corruptions:
        images = rng.integers(
            0, 256, (NUM_SEVERITIES * num_images, 32, 32, 3), dtype=np.uint8)
        np.save(osp.join(data_root, f'{corruption}.npy'), images)
    return data_root
