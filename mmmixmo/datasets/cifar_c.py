"""CIFAR-10-C / CIFAR-100-C in the published ``.npy`` layout."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmpretrain.datasets import CIFAR10, CIFAR100, BaseDataset
from mmpretrain.registry import DATASETS

# The 15 benchmark corruptions, in the order of Hendrycks & Dietterich (2019),
# and the 4 held-out ones also shipped in the archives.
BENCHMARK_CORRUPTIONS = ('gaussian_noise', 'shot_noise', 'impulse_noise',
                         'defocus_blur', 'glass_blur', 'motion_blur',
                         'zoom_blur', 'snow', 'frost', 'fog', 'brightness',
                         'contrast', 'elastic_transform', 'pixelate',
                         'jpeg_compression')
EXTRA_CORRUPTIONS = ('speckle_noise', 'gaussian_blur', 'spatter', 'saturate')
NUM_SEVERITIES = 5
CIFAR_CLASSES = dict(
    cifar10=tuple(CIFAR10.METAINFO['classes']),
    cifar100=tuple(CIFAR100.METAINFO['classes']))


class _ArrayCache(dict):
    """Corruption -> memory-mapped array; copies and pickles are empty, so
    that a copied dataset or a worker maps the files again."""

    def __reduce__(self):
        return type(self), ()

    def __deepcopy__(self, memo: dict) -> '_ArrayCache':
        return type(self)()


@DATASETS.register_module()
class CIFARC(BaseDataset):
    """CIFAR-10-C / CIFAR-100-C (Hendrycks & Dietterich, ICLR 2019).

    Expects the extracted archive: ``data_root/labels.npy`` (``(5 N,)``) and
    ``data_root/<corruption>.npy`` (``(5 N, 32, 32, 3)`` uint8 RGB,
    severity-major: rows ``(s - 1) N .. s N - 1`` are severity ``s``).
    Samples are ordered by corruption, then severity (in the given orders),
    then row; each has ``img`` (HWC RGB, read from the memory-mapped file),
    ``gt_label``, ``corruption``, ``severity`` and ``img_index`` (the row).
    List ``corruption`` and ``severity`` in ``PackInputs.meta_keys`` for
    :class:`~mmmixmo.evaluation.metrics.CorruptionMetric`.

    Args:
        data_root (str): The folder of ``labels.npy`` and the corruptions.
        cifar (str): ``'cifar10'`` or ``'cifar100'``: the class names.
            Defaults to ``'cifar10'``.
        corruptions (str | Sequence[str]): ``'all'`` (the 15 benchmark
            corruptions), ``'extra'`` (the 4 held-out ones) or a list of
            names. Defaults to ``'all'``.
        severities (int | Sequence[int]): Severities in 1..5.
            Defaults to ``(1, 2, 3, 4, 5)``.
        metainfo (dict, optional): ``classes`` replaces the CIFAR names.
            Defaults to None.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`.
    """

    def __init__(self,
                 data_root: str,
                 cifar: str = 'cifar10',
                 corruptions: Union[str, Sequence[str]] = 'all',
                 severities: Union[int, Sequence[int]] = (1, 2, 3, 4, 5),
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if cifar not in CIFAR_CLASSES:
            raise ValueError(f'dataset.cifar of CIFARC must be one of '
                             f'{tuple(CIFAR_CLASSES)}, got {cifar!r}')
        self.cifar = cifar
        self.corruptions = _parse_corruptions(corruptions)
        self.severities = _parse_severities(severities)
        self._arrays = _ArrayCache()
        metainfo = self._compat_classes(
            dict(metainfo or {}), kwargs.pop('classes', None))
        classes = metainfo.setdefault('classes', CIFAR_CLASSES[cifar])
        if len(classes) != len(CIFAR_CLASSES[cifar]):
            raise ValueError(
                f'metainfo.classes (or classes) of CIFARC has {len(classes)} '
                f'names but dataset.cifar={cifar!r} has '
                f'{len(CIFAR_CLASSES[cifar])} classes')
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         data_prefix='', **kwargs)

    def _file(self, name: str) -> str:
        """Path of ``<name>.npy`` in ``data_root``, which must exist."""
        path = osp.join(self.data_root, f'{name}.npy')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'CIFARC: {path} not found (dataset.data_root='
                f'{self.data_root!r} must hold labels.npy and the '
                '<corruption>.npy files of CIFAR-10-C or CIFAR-100-C)')
        return path

    def _open(self, corruption: str) -> np.ndarray:
        """The memory-mapped array of a corruption, opened once."""
        if corruption not in self._arrays:
            self._arrays[corruption] = np.load(
                self._file(corruption), mmap_mode='r')
        return self._arrays[corruption]

    def load_data_list(self) -> List[dict]:
        """Check the files; one dict per sample, without its image."""
        labels = np.load(self._file('labels'))
        num_classes = len(CIFAR_CLASSES[self.cifar])
        if labels.min() < 0 or labels.max() >= num_classes:
            raise ValueError(
                f'CIFARC: labels.npy has labels in [{labels.min()}, '
                f'{labels.max()}], outside [0, {num_classes}) for '
                f'dataset.cifar={self.cifar!r}')
        for corruption in self.corruptions:
            self._open(corruption)  # a missing file fails now
        data_list = []
        per_severity = labels.size // NUM_SEVERITIES
        for corruption in self.corruptions:
            for severity in self.severities:
                start = (severity - 1) * per_severity
                data_list.extend(
                    dict(
                        gt_label=int(labels[row]),
                        corruption=corruption,
                        severity=severity,
                        img_index=row)
                    for row in range(start, start + per_severity))
        return data_list

    def get_data_info(self, idx: int) -> dict:
        """The data info of sample ``idx``, with a copy of its image."""
        info = super().get_data_info(idx)
        info['img'] = np.array(
            self._open(info['corruption'])[info['img_index']])
        return info

    def extra_repr(self) -> List[str]:
        return [f'Root of dataset: \t{self.data_root}',
                f'CIFAR: \t{self.cifar}',
                f'Corruptions: \t{", ".join(self.corruptions)}',
                f'Severities: \t{self.severities}']


def _parse_corruptions(corruptions: Union[str, Sequence[str]]) -> Tuple[str]:
    """``'all'`` / ``'extra'`` / a list of distinct names -> names."""
    named = dict(all=BENCHMARK_CORRUPTIONS, extra=EXTRA_CORRUPTIONS)
    if isinstance(corruptions, str) and corruptions in named:
        return named[corruptions]
    known = BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS
    if isinstance(corruptions, str) or not isinstance(corruptions, Sequence) \
            or not corruptions or len(set(corruptions)) != len(corruptions) \
            or not set(corruptions) <= set(known):
        raise ValueError(
            "dataset.corruptions of CIFARC must be 'all' (the 15 benchmark "
            "corruptions), 'extra' (the 4 held-out ones) or a list of "
            f'distinct names among {known}, got {corruptions!r}')
    return tuple(corruptions)


def _parse_severities(severities: Union[int, Sequence[int]]) -> Tuple[int]:
    """An int or a list of distinct ints in 1..5 -> a tuple."""
    if isinstance(severities, int):
        severities = (severities, )
    if not isinstance(severities, Sequence) or not severities or len(
            set(severities)) != len(severities) or not all(
                type(s) is int and 1 <= s <= NUM_SEVERITIES
                for s in severities):
        raise ValueError(
            'dataset.severities of CIFARC must be an int or a list of '
            f'distinct ints in 1..{NUM_SEVERITIES}, got {severities!r}')
    return tuple(severities)
