"""scikit-learn's bundled handwritten digits as a small real image dataset.

The 1797 grey 8x8 digits of :func:`sklearn.datasets.load_digits` (the test
set of the UCI "Optical Recognition of Handwritten Digits" data) ship inside
the scikit-learn wheel, so this dataset needs no download and no data folder.
It exists for the quickstart (``configs/quickstart/``), which trains a small
MixMo on a CPU in a few minutes.
"""
from typing import List, Optional, Tuple

import mmcv
import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS


def stratified_split(labels: np.ndarray, test_size: int,
                     seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Split sample indices into train and test, keeping class proportions.

    Each class ``c`` with ``n_c`` of the ``N`` samples gives
    ``floor(test_size * n_c / N)`` test samples; the ``test_size`` minus their
    sum remaining test slots go to the classes with the largest fractional
    parts (ties to the smaller label). Within each class the test samples are
    the first ones of a permutation drawn from
    ``numpy.random.default_rng(seed)`` (one permutation per class, in label
    order). The split depends on numpy only, not on scikit-learn's version.

    Args:
        labels (np.ndarray): Integer labels, shape (N,).
        test_size (int): Number of test samples, in ``[1, N - 1]``.
        seed (int): Seed of the permutations.

    Returns:
        tuple[np.ndarray, np.ndarray]: Sorted train indices, shape
        (N - test_size,), and sorted test indices, shape (test_size,).
    """
    classes, counts = np.unique(labels, return_counts=True)
    quota = test_size * counts / len(labels)
    per_class = np.floor(quota).astype(np.int64)
    # stable sort on -fraction: largest remainder first, ties to small label
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
    """Turn one scikit-learn digit into a ``uint8`` RGB image.

    Intensities 0..16 are scaled by 255 / 16, the square grid is resized to
    ``img_size`` with OpenCV's bilinear interpolation (half-pixel centres,
    borders replicated) in float32, rounded to the nearest integer, and the
    grey channel is copied to the three channels.

    Args:
        image (np.ndarray): Grey digit, shape (S, S), values in [0, 16].
        img_size (int): Output side; ``S`` keeps the grid (no resize).

    Returns:
        np.ndarray: ``uint8`` image, shape (img_size, img_size, 3), with
        three equal channels.
    """
    grey = image.astype(np.float32) * np.float32(255.0 / 16.0)
    if img_size != grey.shape[0] or img_size != grey.shape[1]:
        grey = mmcv.imresize(
            grey, (img_size, img_size), interpolation='bilinear',
            backend='cv2')
    grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _load_sklearn_digits() -> Tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's digits: images (1797, 8, 8) float, labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise ImportError(
            'The Digits dataset reads the 8x8 digits bundled with '
            'scikit-learn, which is not installed: run '
            '`pip install scikit-learn`') from error
    digits = load_digits()
    return digits.images, digits.target


@DATASETS.register_module()
class Digits(BaseDataset):
    """scikit-learn's handwritten digits (10 classes), upscaled to RGB.

    Reads :func:`sklearn.datasets.load_digits`: 1797 grey 8x8 images of the
    digits 0-9 (174 to 183 per class) with integer intensities 0..16. They
    are bundled with scikit-learn, so nothing is downloaded and ``data_root``
    is not used. scikit-learn is imported only when the dataset is built.

    Splits: a fixed stratified split (:func:`stratified_split`, seed
    ``seed``) holds out ``test_size`` images; with the defaults ``'train'``
    has 1497 images and ``'test'`` 300 (30 per class except 31 of '3' and 29
    of '8'). The two splits are disjoint and together cover the 1797 images;
    samples keep the order of scikit-learn's arrays.

    Images (:func:`digit_to_rgb`): intensities are scaled from 0..16 to
    0..255, the 8x8 grid is resized to ``img_size`` x ``img_size`` with
    bilinear interpolation (OpenCV, through :func:`mmcv.imresize`, in float
    before rounding), and the grey channel is replicated three times, giving
    ``uint8`` arrays of shape (img_size, img_size, 3) (white digits on
    black). As in mmpretrain's :class:`~mmpretrain.datasets.CIFAR10`, each
    sample holds the array itself under ``img`` with its ``gt_label``, so
    pipelines start without ``LoadImageFromFile``.

    Args:
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        img_size (int): Side of the resized square images; 8 keeps the
            original resolution. Defaults to 32 (the CIFAR size, so masks of
            the mixing block live on a 32x32 grid as in the paper).
        test_size (int): Number of images of the test split, in
            ``[10, 1787]`` (at least one per class on each side).
            Defaults to 300.
        seed (int): Seed of the stratified split. Defaults to 0.
        data_root (str): Unused (the data ships with scikit-learn); accepted
            so that configs may set it like for other datasets.
            Defaults to ''.
        **kwargs: Other keyword arguments of
            :class:`mmpretrain.datasets.BaseDataset` (``pipeline``,
            ``test_mode``, ``indices``, ``metainfo``, ``lazy_init``...).
            ``ann_file`` and ``data_prefix`` may not be given.

    Raises:
        ValueError: ``split``, ``img_size``, ``test_size`` or ``seed`` is
            invalid, or ``ann_file`` / ``data_prefix`` is given.
        ImportError: scikit-learn is not installed (when the samples are
            loaded, i.e. at construction unless ``lazy_init=True``).

    Examples:
        >>> from mmmixmo.datasets import Digits
        >>> train, test = Digits(split='train'), Digits(split='test')
        >>> len(train), len(test)
        (1497, 300)
        >>> train[0]['img'].shape, train[0]['img'].dtype
        ((32, 32, 3), dtype('uint8'))
    """

    METAINFO = {'classes': tuple(str(i) for i in range(10))}
    SPLITS = ('train', 'test')
    NUM_IMAGES = 1797

    def __init__(self,
                 split: str = 'train',
                 img_size: int = 32,
                 test_size: int = 300,
                 seed: int = 0,
                 data_root: str = '',
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(
                f'dataset.split must be one of {self.SPLITS}, got {split!r}')
        if isinstance(img_size, bool) or not isinstance(img_size, int) \
                or img_size < 1:
            raise ValueError('dataset.img_size must be a positive int, got '
                             f'{img_size!r}')
        num_classes = len(self.METAINFO['classes'])
        if isinstance(test_size, bool) or not isinstance(test_size, int) or \
                not num_classes <= test_size <= self.NUM_IMAGES - num_classes:
            raise ValueError(
                f'dataset.test_size must be an int in [{num_classes}, '
                f'{self.NUM_IMAGES - num_classes}], got {test_size!r}')
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(
                f'dataset.seed must be a non-negative int, got {seed!r}')
        for key in ('ann_file', 'data_prefix'):
            if key in kwargs:
                raise ValueError(
                    f'dataset.{key} is not supported by Digits, whose images '
                    f'ship with scikit-learn')
        self.split = split
        self.img_size = img_size
        self.test_size = test_size
        self.seed = seed
        super().__init__(
            ann_file='', metainfo=metainfo, data_root=data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Load, split and resize the digits.

        Returns:
            list[dict]: One dict per image of :attr:`split` with ``img``
            (``uint8`` array, shape (img_size, img_size, 3)) and ``gt_label``
            (int in 0..9).
        """
        images, labels = _load_sklearn_digits()
        train_idx, test_idx = stratified_split(labels, self.test_size,
                                               self.seed)
        indices = train_idx if self.split == 'train' else test_idx
        return [
            dict(
                img=digit_to_rgb(images[i], self.img_size),
                gt_label=int(labels[i])) for i in indices
        ]

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return [
            f'Split: \t{self.split}',
            f'Image size: \t{self.img_size}x{self.img_size}',
            f'Stratified split: \ttest_size={self.test_size}, '
            f'seed={self.seed}',
        ]
