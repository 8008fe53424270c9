"""Write a miniature Tiny ImageNet folder (archive layout) for tests."""
import os
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
from PIL import Image

# Deliberately not in sorted order: labels must follow wnids.txt, not sorting.
FAKE_WNIDS = ('n03000003', 'n01000001', 'n02000002')
FAKE_WORDS = {
    'n01000001': 'goldfish, Carassius auratus',
    'n02000002': 'tabby, tabby cat',
    'n03000003': 'school bus',
}


def class_gray_value(label: int) -> int:
    """Uniform gray level of every image of class ``label`` (30, 120, 210...).

    JPEG keeps uniform images within a few levels, so tests can check that the
    file behind a sample belongs to the class of its ``gt_label``.
    """
    return 30 + 90 * label


def _save_jpeg(path: str, value: int, size: int) -> None:
    img = np.full((size, size, 3), value, dtype=np.uint8)
    Image.fromarray(img).save(path, format='JPEG', quality=95)


def make_fake_tiny_imagenet(root: str,
                            wnids: Sequence[str] = FAKE_WNIDS,
                            num_train: int = 4,
                            num_val: int = 2,
                            num_test: int = 3,
                            size: int = 8,
                            with_words: bool = True) -> Dict[str, List]:
    """Create ``root`` with the layout of ``tiny-imagenet-200.zip``.

    ``wnids.txt`` lists ``wnids`` in the given order; ``words.txt`` (if
    ``with_words``) has an unrelated extra synset plus :data:`FAKE_WORDS`;
    each train class has ``images/<wnid>_<k>.JPEG`` and a ``<wnid>_boxes.txt``;
    ``val/val_annotations.txt`` interleaves the classes
    (``val_0`` class 0, ``val_1`` class 1, ...); ``test/images`` is unlabelled.
    Every image of class ``i`` is uniform gray :func:`class_gray_value`;
    test images are black.

    Args:
        root (str): Folder to create (may exist).
        wnids (Sequence[str]): Class wnids, in label order.
        num_train (int): Train images per class.
        num_val (int): Val images per class.
        num_test (int): Test images in total.
        size (int): Image height and width.
        with_words (bool): Whether to write ``words.txt``.

    Returns:
        dict[str, list]: ``train_labels`` and ``val_labels``, the expected
        ``gt_label`` of each sample in dataset order.
    """
    os.makedirs(root, exist_ok=True)
    with open(osp.join(root, 'wnids.txt'), 'w') as f:
        f.write(''.join(f'{w}\n' for w in wnids))
    if with_words:
        with open(osp.join(root, 'words.txt'), 'w') as f:
            f.write('n00001740\tentity\n')
            for w in wnids:
                f.write(f'{w}\t{FAKE_WORDS.get(w, w + " name")}\n')

    train_labels = []
    for label, wnid in enumerate(wnids):
        img_dir = osp.join(root, 'train', wnid, 'images')
        os.makedirs(img_dir, exist_ok=True)
        with open(osp.join(root, 'train', wnid, f'{wnid}_boxes.txt'),
                  'w') as f:
            for k in range(num_train):
                f.write(f'{wnid}_{k}.JPEG\t0\t0\t{size - 1}\t{size - 1}\n')
        for k in range(num_train):
            _save_jpeg(
                osp.join(img_dir, f'{wnid}_{k}.JPEG'),
                class_gray_value(label), size)
            train_labels.append(label)

    val_dir = osp.join(root, 'val', 'images')
    os.makedirs(val_dir, exist_ok=True)
    val_labels, lines = [], []
    for k in range(num_val * len(wnids)):
        label = k % len(wnids)
        _save_jpeg(
            osp.join(val_dir, f'val_{k}.JPEG'), class_gray_value(label), size)
        lines.append(f'val_{k}.JPEG\t{wnids[label]}\t0\t0\t{size - 1}\t'
                     f'{size - 1}\n')
        val_labels.append(label)
    with open(osp.join(root, 'val', 'val_annotations.txt'), 'w') as f:
        f.write(''.join(lines))

    test_dir = osp.join(root, 'test', 'images')
    os.makedirs(test_dir, exist_ok=True)
    for k in range(num_test):
        _save_jpeg(osp.join(test_dir, f'test_{k}.JPEG'), 0, size)

    return dict(train_labels=train_labels, val_labels=val_labels)
