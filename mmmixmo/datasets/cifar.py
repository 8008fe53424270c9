"""CIFAR-10/100 from local files only, with an optional md5 check."""
from mmpretrain.datasets import CIFAR10, CIFAR100
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class LocalCIFAR10(CIFAR10):
    """mmpretrain's CIFAR-10 that never downloads and can skip the md5 check.

    Expects ``<data_root>/cifar-10-batches-py`` of the official archive.

    Args:
        data_root (str): The folder that contains ``cifar-10-batches-py``.
        split (str): ``'train'`` or ``'test'``. Defaults to ``'train'``.
        check_md5 (bool): Whether to check the official md5 sums; False for
            re-packed or fake data. Defaults to True.
        download (bool): Must be False. Defaults to False.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.CIFAR10`.
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
        if not check_md5:
            # mmpretrain checks existence only for a None md5; the instance
            # lists shadow the class ones.
            self.train_list = [[name, None] for name, _ in self.train_list]
            self.test_list = [[name, None] for name, _ in self.test_list]
            self.meta = dict(self.meta, md5=None)
        super().__init__(
            data_root=data_root, split=split, download=False, **kwargs)

    def _check_integrity(self) -> bool:
        """Raise, rather than offer a download, when a file is missing."""
        if not super()._check_integrity():
            raise RuntimeError(
                f'{type(self).__name__}: dataset.data_root='
                f'{self.data_root!r} has no complete {self.base_folder} '
                '(or, with check_md5=True, one of its files is not the '
                'official one)')
        return True


@DATASETS.register_module()
class LocalCIFAR100(LocalCIFAR10, CIFAR100):
    """:class:`LocalCIFAR10` for CIFAR-100 (``cifar-100-python``, fine
    labels)."""
