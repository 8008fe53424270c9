"""Write a miniature Tiny ImageNet folder (archive layout) for tests."""
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
from PIL import Image

# Not in sorted order: labels must follow wnids.txt, not sorting.
FAKE_WNIDS = ('n03000003', 'n01000001', 'n02000002')
FAKE_WORDS = {
    'n01000001': 'goldfish, Carassius auratus',
    'n02000002': 'tabby, tabby cat',
    'n03000003': 'school bus',
}


def class_gray_value(label: int) -> int:
    """Uniform gray level of the images of class ``label`` (30, 120, ...)."""
    return 30 + 90 * label


def _save_jpeg(path: str, value: int, size: int) -> None:
    img = np.full((size, size, 3), value, dtype=np.uint8)
    Image.fromarray(img).save(path, format='JPEG', quality=95)


def _write(path: str, lines: Sequence[str]) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{line}\n' for line in lines))


def make_fake_tiny_imagenet(root: str,
                            wnids: Sequence[str] = FAKE_WNIDS,
                            num_train: int = 4,
                            num_val: int = 2,
                            num_test: int = 3,
                            size: int = 8,
                            with_words: bool = True) -> Dict[str, List]:
    """Create ``root`` with the layout of ``tiny-imagenet-200.zip``.

    ``words.txt`` has an extra synset and :data:`FAKE_WORDS`; each train
    class has ``num_train`` images and a boxes file; val image ``k`` is of
    class ``k % len(wnids)``; images of class ``i`` are uniform
    :func:`class_gray_value` gray, test images are black.

    Returns:
        dict[str, list]: ``train_labels`` and ``val_labels``, the expected
        ``gt_label`` of each sample in dataset order.
    """
    _write(osp.join(root, 'wnids.txt'), wnids)
    if with_words:
        _write(
            osp.join(root, 'words.txt'), ['n00001740\tentity'] +
            [f'{w}\t{FAKE_WORDS.get(w, w + " name")}' for w in wnids])
    train_labels = []
    for label, wnid in enumerate(wnids):
        names = [f'{wnid}_{k}.JPEG' for k in range(num_train)]
        _write(
            osp.join(root, 'train', wnid, f'{wnid}_boxes.txt'),
            [f'{name}\t0\t0\t{size - 1}\t{size - 1}' for name in names])
        os.makedirs(osp.join(root, 'train', wnid, 'images'), exist_ok=True)
        for name in names:
            _save_jpeg(
                osp.join(root, 'train', wnid, 'images', name),
                class_gray_value(label), size)
        train_labels += [label] * num_train
    val_labels = [k % len(wnids) for k in range(num_val * len(wnids))]
    _write(
        osp.join(root, 'val', 'val_annotations.txt'),
        [f'val_{k}.JPEG\t{wnids[label]}\t0\t0\t{size - 1}\t{size - 1}'
         for k, label in enumerate(val_labels)])
    os.makedirs(osp.join(root, 'val', 'images'), exist_ok=True)
    for k, label in enumerate(val_labels):
        _save_jpeg(
            osp.join(root, 'val', 'images', f'val_{k}.JPEG'),
            class_gray_value(label), size)
    os.makedirs(osp.join(root, 'test', 'images'), exist_ok=True)
    for k in range(num_test):
        _save_jpeg(osp.join(root, 'test', 'images', f'test_{k}.JPEG'), 0, size)
    return dict(train_labels=train_labels, val_labels=val_labels)
