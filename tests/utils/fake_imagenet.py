"""Write a miniature ImageNet-1k (mmpretrain's ``data/imagenet``) for tests."""
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import cv2
import numpy as np

# Labels of the fake images, cycled: the ends of mmpretrain's 1000 classes.
FAKE_LABELS = (0, 1, 500, 999)


def fake_wnid(label: int) -> str:
    """The (made-up) synset folder of class ``label``: ``n00000999``."""
    return f'n{label:08d}'


def _write(path: str, lines: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def make_fake_imagenet(root: str,
                       num_train: int = 16,
                       num_val: int = 8,
                       labels: Sequence[int] = FAKE_LABELS,
                       size: Tuple[int, int] = (40, 48),
                       seed: int = 0) -> Dict[str, List[Tuple[str, int]]]:
    """Create ``root`` in the layout of mmpretrain's ImageNet docs.

    ``train/<wnid>/<wnid>_<n>.JPEG``, ``val/ILSVRC2012_val_<8 digits>.JPEG``
    and the annotation files ``meta/train.txt`` (``<wnid>/<file> <label>``)
    and ``meta/val.txt`` (``<file> <label>``). Image ``k`` of a split is of
    class ``labels[k % len(labels)]``; every image is random noise.

    Args:
        root (str): Folder to write to (created if missing).
        num_train (int): Train images. Defaults to 16.
        num_val (int): Validation images. Defaults to 8.
        labels (Sequence[int]): Labels in ``[0, 1000)``, cycled. Defaults
            to :data:`FAKE_LABELS`.
        size (tuple[int, int]): ``(height, width)`` of the JPEGs; not square
            so that resizing and cropping really work. Defaults to (40, 48).
        seed (int): Seed of the pixels. Defaults to 0.

    Returns:
        dict[str, list[tuple[str, int]]]: ``train`` and ``val``: the
        ``(path relative to the split folder, label)`` of each image, in
        annotation-file order.
    """
    assert all(0 <= label < 1000 for label in labels)
    rng = np.random.default_rng(seed)
    samples = dict(train=[], val=[])
    counts = {}
    for k in range(num_train):
        label = labels[k % len(labels)]
        wnid = fake_wnid(label)
        counts[wnid] = counts.get(wnid, 0) + 1
        samples['train'].append(
            (f'{wnid}/{wnid}_{counts[wnid]}.JPEG', label))
    samples['val'] = [(f'ILSVRC2012_val_{k + 1:08d}.JPEG',
                       labels[k % len(labels)]) for k in range(num_val)]
    for split, items in samples.items():
        for name, _ in items:
            path = osp.join(root, split, name)
            os.makedirs(osp.dirname(path), exist_ok=True)
            img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            assert cv2.imwrite(path, img)
        _write(
            osp.join(root, 'meta', f'{split}.txt'),
            [f'{name} {label}' for name, label in items])
    return samples
