"""CIFAR-10/100 read from local files only, with an optional md5 check.

mmpretrain's :class:`~mmpretrain.datasets.CIFAR10` downloads the archive when
its files are missing or when one of them fails its md5 check, and refuses to
load files whose md5 differs from the official release even with
``download=False``. That makes it unusable for the small fake CIFAR that the
tests write (``tests/utils/fake_cifar.py``) and for machines without network
access. The classes below keep mmpretrain's loading code untouched and only
change its data: they never download and, with ``check_md5=False``, they list
the files without checksums so mmpretrain checks existence only.
"""
from typing import List

from mmpretrain.datasets import CIFAR10, CIFAR100
from mmpretrain.registry import DATASETS


def _without_md5(file_list: List[List[str]]) -> List[List]:
    """Return ``[[name, None], ...]`` for a ``[[name, md5], ...]`` list."""
    return [[name, None] for name, _ in file_list]


@DATASETS.register_module()
class LocalCIFAR10(CIFAR10):
    """CIFAR-10 from local files in the original pickle layout, no download.

    The files must be ``<data_root>/cifar-10-batches-py/data_batch_1..5``,
    ``test_batch`` and ``batches.meta``, as in the official archive.

    Args:
        data_root (str): The root directory of the dataset, the one that
            contains ``cifar-10-batches-py``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        check_md5 (bool): Whether to compare the files with the md5 sums of
            the official release. Set it to False for re-packed or fake data
            (the tests). Defaults to True.
        download (bool): Must stay False: this dataset never touches the
            network. Use :class:`mmpretrain.datasets.CIFAR10` to download.
            Defaults to False.
        **kwargs: Other keyword arguments of
            :class:`mmpretrain.datasets.CIFAR10`.

    Raises:
        ValueError: If ``download`` is True.
        RuntimeError: If a file is missing (or fails its md5 check), from
            mmpretrain's loader.
    """

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 check_md5: bool = True,
                 download: bool = False,
                 **kwargs) -> None:
        if download:
            raise ValueError(
                f'dataset.download must be False for {type(self).__name__}, '
                f'which reads local files only; use mmpretrain\'s '
                f'{type(self).__name__[len("Local"):]} to download')
        self.check_md5 = check_md5
        if not check_md5:
            # Instance attributes shadow the class-level lists that
            # mmpretrain's `_check_integrity` and `_load_meta` read; a None
            # md5 makes both of them check existence only.
            self.train_list = _without_md5(type(self).train_list)
            self.test_list = _without_md5(type(self).test_list)
            self.meta = dict(type(self).meta, md5=None)
        super().__init__(
            data_root=data_root, split=split, download=False, **kwargs)


@DATASETS.register_module()
class LocalCIFAR100(LocalCIFAR10, CIFAR100):
    """CIFAR-100 from local files in the original pickle layout, no download.

    The files must be ``<data_root>/cifar-100-python/train``, ``test`` and
    ``meta``, as in the official archive. Labels are the 100 fine labels.

    Args:
        data_root (str): The root directory of the dataset, the one that
            contains ``cifar-100-python``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        check_md5 (bool): Whether to compare the files with the md5 sums of
            the official release. Defaults to True.
        download (bool): Must stay False. Defaults to False.
        **kwargs: Other keyword arguments of
            :class:`mmpretrain.datasets.CIFAR100`.
    """
