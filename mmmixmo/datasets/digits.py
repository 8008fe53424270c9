"""scikit-learn's bundled 8x8 handwritten digits, for the quickstart."""
import math
from typing import List, Tuple

import mmcv
import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS


def stratified_split(labels: np.ndarray, test_size: int,
                     seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Split sample indices into train and test, keeping class proportions.

    Class ``c`` (``n_c`` of ``N`` samples) gets ``floor(test_size n_c / N)``
    test samples, one more for the largest remainders (ties to the smaller
    label): the first of a ``default_rng(seed)`` permutation of the class,
    drawn in label order.

    Args:
        labels (np.ndarray): Integer labels, shape (N,).
        test_size (int): Number of test samples.
        seed (int): Seed of the permutations.

    Returns:
        tuple[np.ndarray, np.ndarray]: Sorted train indices
        (N - test_size,) and sorted test indices (test_size,).
    """
    classes, counts = np.unique(labels, return_counts=True)
    quota = test_size * counts / len(labels)
    per_class = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - per_class), kind='stable')
    per_class[order[:test_size - per_class.sum()]] += 1
    rng = np.random.default_rng(seed)
    test = np.concatenate([
        rng.permutation(np.flatnonzero(labels == c))[:k]
        for c, k in zip(classes, per_class)
    ])
    is_test = np.zeros(len(labels), dtype=bool)
    is_test[test] = True
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def digit_to_rgb(image: np.ndarray, img_size: int) -> np.ndarray:
    """A digit ``(S, S)`` in 0..16 -> uint8 ``(img_size, img_size, 3)``.

    Note: scaled by 255 / 16 and resized (OpenCV bilinear) in float32, then
    rounded; the three channels are equal.
    """
    grey = image.astype(np.float32) * np.float32(255.0 / 16.0)
    if grey.shape != (img_size, img_size):
        grey = mmcv.imresize(
            grey, (img_size, img_size), interpolation='bilinear',
            backend='cv2')
    grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


@DATASETS.register_module()
class Digits(BaseDataset):
    """scikit-learn's 1797 handwritten digits (10 classes), upscaled to RGB.

    A fixed :func:`stratified_split` holds out ``test_size`` images (1497
    train / 300 test by default), in scikit-learn's order. Samples hold the
    image array (:func:`digit_to_rgb`) under ``img``, as mmpretrain's
    ``CIFAR10``. Nothing is downloaded; ``data_root`` is unused.

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        img_size (int): Side of the images. Defaults to 32.
        test_size (int): Images of the test split, in [10, 1787].
            Defaults to 300.
        seed (int): Seed of the split. Defaults to 0.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`.
    """

    METAINFO = {'classes': tuple(str(i) for i in range(10))}
    SPLITS = ('train', 'test')

    def __init__(self,
                 split: str = 'train',
                 img_size: int = 32,
                 test_size: int = 300,
                 seed: int = 0,
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(
                f'dataset.split must be one of {self.SPLITS}, got {split!r}')
        for key, value, low, high in (('img_size', img_size, 1, math.inf),
                                      ('test_size', test_size, 10, 1787),
                                      ('seed', seed, 0, math.inf)):
            if type(value) is not int or not low <= value <= high:
                raise ValueError(f'dataset.{key} must be an int in '
                                 f'[{low}, {high}], got {value!r}')
        self.split = split
        self.img_size = img_size
        self.test_size = test_size
        self.seed = seed
        super().__init__(ann_file='', data_prefix='', **kwargs)

    def load_data_list(self) -> List[dict]:
        """The images and labels of :attr:`split`."""
        try:
            from sklearn.datasets import load_digits
        except ImportError as error:
            raise ImportError('Digits reads the digits bundled with '
                              'scikit-learn: pip install scikit-learn'
                              ) from error
        digits = load_digits()
        train, test = stratified_split(digits.target, self.test_size,
                                       self.seed)
        return [
            dict(
                img=digit_to_rgb(digits.images[i], self.img_size),
                gt_label=int(digits.target[i]))
            for i in (train if self.split == 'train' else test)
        ]

    def extra_repr(self) -> List[str]:
        size, test_size, seed = self.img_size, self.test_size, self.seed
        return [f'Split: \t{self.split}', f'Image size: \t{size}x{size}',
                f'Stratified split: \ttest_size={test_size}, seed={seed}']
