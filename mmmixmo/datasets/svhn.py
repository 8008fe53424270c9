"""SVHN (cropped digits) from the official ``.mat`` files."""
import os.path as osp
from typing import List, Sequence

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

SVHN_URL = 'http://ufldl.stanford.edu/housenumbers/'


@DATASETS.register_module()
class SVHN(BaseDataset):
    """The Street View House Numbers, format 2 (Netzer et al., 2011).

    Reads ``data_root/{split}_32x32.mat`` as published: ``X`` of shape
    ``(32, 32, 3, N)`` uint8 RGB and ``y`` of shape ``(N, 1)`` in 1..10,
    where 10 is the digit 0. Samples hold the image under ``img`` as an HWC
    uint8 RGB array and ``gt_label`` in 0..9 (the digit), as mmpretrain's
    ``CIFAR10``, so CIFAR pipelines and data preprocessors apply unchanged.
    Nothing is downloaded.

    Args:
        data_root (str): The folder of the ``.mat`` files.
        split (str): ``'train'``, ``'test'`` or ``'extra'``.
            Defaults to ``'test'``.
        pipeline (Sequence): Processing pipeline. Defaults to ().
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`.
    """

    METAINFO = {'classes': tuple(str(i) for i in range(10))}
    SPLITS = ('train', 'test', 'extra')

    def __init__(self,
                 data_root: str,
                 split: str = 'test',
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(
                f'dataset.split of SVHN must be one of {self.SPLITS}, '
                f'got {split!r}')
        self.split = split
        super().__init__(
            ann_file='',
            data_root=data_root,
            data_prefix='',
            pipeline=pipeline,
            **kwargs)

    @property
    def mat_file(self) -> str:
        """Path of the ``.mat`` file of :attr:`split`."""
        return osp.join(self.data_root, f'{self.split}_32x32.mat')

    def load_data_list(self) -> List[dict]:
        """The images and labels of :attr:`split`."""
        path = self.mat_file
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'SVHN: {path} not found (dataset.data_root='
                f'{self.data_root!r} must hold {self.split}_32x32.mat of the '
                f'cropped digits, format 2, from {SVHN_URL})')
        from scipy.io import loadmat  # requirements.txt; the `svhn` extra
        mat = loadmat(path)
        images, labels = mat['X'], mat['y'].reshape(-1)
        if images.dtype != np.uint8 or images.shape[:3] != (32, 32, 3) \
                or images.ndim != 4 or images.shape[3] != labels.size:
            raise ValueError(
                f'SVHN: {path} must hold X (32, 32, 3, N) uint8 and y (N, 1), '
                f'got X {images.shape} {images.dtype} and y {mat["y"].shape}')
        if labels.size and not 1 <= labels.min() <= labels.max() <= 10:
            raise ValueError(
                f'SVHN: {path} has labels in [{labels.min()}, '
                f'{labels.max()}], outside 1..10 (10 is the digit 0)')
        # (32, 32, 3, N) -> N contiguous HWC images
        images = np.ascontiguousarray(images.transpose(3, 0, 1, 2))
        return [
            dict(img=img, gt_label=int(label) % 10)
            for img, label in zip(images, labels)
        ]

    def extra_repr(self) -> List[str]:
        return [f'Root of dataset: \t{self.data_root}',
                f'Split: \t{self.split}']
