"""CIFAR-10-C / CIFAR-100-C in the published ``.npy`` layout."""
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmpretrain.datasets import CIFAR10, CIFAR100, BaseDataset
from mmpretrain.registry import DATASETS

# The 15 corruptions of the benchmark (mean over them = the published
# "corruption accuracy" / mCE), in the order of Hendrycks & Dietterich (2019),
# Figure 1: noise, blur, weather, digital.
BENCHMARK_CORRUPTIONS = ('gaussian_noise', 'shot_noise', 'impulse_noise',
                         'defocus_blur', 'glass_blur', 'motion_blur',
                         'zoom_blur', 'snow', 'frost', 'fog', 'brightness',
                         'contrast', 'elastic_transform', 'pixelate',
                         'jpeg_compression')
# The 4 held-out corruptions also shipped in the archives (for validation).
EXTRA_CORRUPTIONS = ('speckle_noise', 'gaussian_blur', 'spatter', 'saturate')
NUM_SEVERITIES = 5
Corruptions = Union[str, Sequence[str]]
Severities = Union[int, Sequence[int]]

_LAYOUT = """\
data_root/                      CIFAR-10-C.tar or CIFAR-100-C.tar, extracted
├── labels.npy                  (5 * N,) integer labels, N = 10000
├── gaussian_noise.npy          (5 * N, 32, 32, 3) uint8 RGB, severity 1 first
├── ...                         one file per corruption, same shape
└── saturate.npy"""


class _ArrayCache(dict):
    """Corruption name -> memory-mapped array, opened on first use.

    Copies and pickles of the cache are empty, so that deep-copying the
    dataset (``get_subset``) or sending it to a spawned dataloader worker
    never reads a whole ``.npy`` file into memory: the copy maps the file
    again when it needs it.
    """

    def __reduce__(self):
        return type(self), ()

    def __deepcopy__(self, memo: dict) -> '_ArrayCache':
        return type(self)()


@DATASETS.register_module()
class CIFARC(BaseDataset):
    """CIFAR-10-C / CIFAR-100-C (Hendrycks & Dietterich, ICLR 2019).

    Reads the folder of the published archive (``CIFAR-10-C.tar``,
    ``CIFAR-100-C.tar``) unchanged::

        data_root/
        ├── labels.npy               # (50000,) uint8
        ├── gaussian_noise.npy       # (50000, 32, 32, 3) uint8
        └── ...                      # 19 corruption files in total

    Each ``<corruption>.npy`` holds the ``N = 10000`` CIFAR test images under
    the 5 severities, severity-major: rows ``(s - 1) * N .. s * N - 1`` are
    severity ``s``, in the order of the clean test set; ``labels.npy`` holds
    the label of every row (the test labels repeated 5 times).

    **Samples** are ordered by corruption (in the order of ``corruptions``),
    then severity (in the order of ``severities``), then row. Each data info
    has ``img`` (``(32, 32, 3)`` uint8 RGB, HWC, like mmpretrain's
    :class:`~mmpretrain.datasets.CIFAR10`), ``gt_label`` (int),
    ``corruption`` (str), ``severity`` (int in 1..5) and ``img_index`` (row in
    the ``.npy`` file; the clean test image is ``img_index % N``). To carry
    the corruption and severity to the predicted
    :class:`~mmpretrain.structures.DataSample` as metainfo (which
    :class:`~mmmixmo.evaluation.metrics.CorruptionMetric` groups by), list
    them in the packing transform::

        dict(type='PackInputs',
             meta_keys=(*PackInputs.DEFAULT_META_KEYS, 'corruption',
                        'severity'))

    **Memory.** The corruption files are opened with
    ``np.load(mmap_mode='r')``: only the header is read when the dataset is
    built (to check the shape) and a sample reads its own 3 KB when it is
    fetched, so the 19 x 150 MB files are never loaded at once. Copies of the
    dataset and spawned workers map the files again. The files must
    therefore be on a local (or mounted) file system.

    Args:
        data_root (str): The folder that holds ``labels.npy`` and the
            ``<corruption>.npy`` files.
        cifar (str): ``'cifar10'`` or ``'cifar100'``: which class names
            (those of mmpretrain's ``CIFAR10`` / ``CIFAR100``) and how many
            classes the labels may take. Defaults to ``'cifar10'``.
        corruptions (str | Sequence[str]): ``'all'`` for the 15 benchmark
            corruptions (:data:`BENCHMARK_CORRUPTIONS`; the usual average of
            the robustness literature), ``'extra'`` for the 4 held-out ones
            (:data:`EXTRA_CORRUPTIONS`), or a list of names among the 19.
            Defaults to ``'all'``.
        severities (int | Sequence[int]): The severities to include, in
            ``1..5``. Defaults to ``(1, 2, 3, 4, 5)``.
        metainfo (dict, optional): Meta information; ``classes`` replaces the
            CIFAR class names (it must keep one name per class of the
            chosen ``cifar``); so does ``classes``. Defaults to None.
        **kwargs: Other keyword arguments of
            :class:`mmpretrain.datasets.BaseDataset` (``pipeline``,
            ``indices``, ``test_mode``, ``lazy_init``, ``serialize_data``,
            ``classes``...).
            ``ann_file`` and ``data_prefix`` are fixed by the layout.

    Raises:
        ValueError: An unknown ``cifar``, corruption or severity; a duplicate
            corruption or severity; class names that do not match the number
            of classes of ``cifar``; a labels or corruption file of the wrong
            shape or dtype; a label outside ``[0, num_classes)``.
        FileNotFoundError: ``labels.npy`` or a corruption file is missing.

    Examples:
        >>> from mmmixmo.datasets import CIFARC
        >>> ds = CIFARC('data/CIFAR-10-C', cifar='cifar10')
        >>> len(ds)                   # 15 corruptions x 5 severities x 10000
        750000
        >>> info = ds.get_data_info(10000)
        >>> info['corruption'], info['severity'], info['img'].shape
        ('gaussian_noise', 2, (32, 32, 3))
    """

    CIFAR_CLASSES: Dict[str, Tuple[str, ...]] = {
        'cifar10': tuple(CIFAR10.METAINFO['classes']),
        'cifar100': tuple(CIFAR100.METAINFO['classes']),
    }

    def __init__(self,
                 data_root: str,
                 cifar: str = 'cifar10',
                 corruptions: Corruptions = 'all',
                 severities: Severities = (1, 2, 3, 4, 5),
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        if cifar not in self.CIFAR_CLASSES:
            raise ValueError(f'dataset.cifar of CIFARC must be one of '
                             f'{tuple(self.CIFAR_CLASSES)}, got {cifar!r}')
        for key in ('ann_file', 'data_prefix'):
            if key in kwargs:
                raise ValueError(
                    f'{key} is not supported by CIFARC: the files are found '
                    f'in data_root; expected layout:\n{_LAYOUT}')
        self.cifar = cifar
        self.corruptions = self._parse_corruptions(corruptions)
        self.severities = self._parse_severities(severities)
        self._arrays = _ArrayCache()
        # User names (metainfo.classes, else `classes`) over the CIFAR ones.
        metainfo = self._compat_classes(
            dict(metainfo or {}), kwargs.pop('classes', None))
        num_classes = len(self.CIFAR_CLASSES[cifar])
        if len(metainfo.setdefault('classes',
                                   self.CIFAR_CLASSES[cifar])) != num_classes:
            raise ValueError(
                f'metainfo.classes (or classes) of CIFARC has '
                f'{len(metainfo["classes"])} names but dataset.cifar='
                f'{cifar!r} has {num_classes} classes')
        super().__init__(
            ann_file='', metainfo=metainfo, data_root=data_root, **kwargs)

    @staticmethod
    def _parse_corruptions(corruptions: Corruptions) -> Tuple[str, ...]:
        """Resolve ``'all'`` / ``'extra'`` / a list into corruption names."""
        if corruptions == 'all':
            return BENCHMARK_CORRUPTIONS
        if corruptions == 'extra':
            return EXTRA_CORRUPTIONS
        known = BENCHMARK_CORRUPTIONS + EXTRA_CORRUPTIONS
        if isinstance(corruptions, str) or not isinstance(
                corruptions, Sequence) or len(corruptions) == 0:
            raise ValueError(
                "dataset.corruptions of CIFARC must be 'all' (the 15 "
                "benchmark corruptions), 'extra' (the 4 held-out ones) or a "
                f'non-empty list of names among {known}, got {corruptions!r}')
        unknown = [c for c in corruptions if c not in known]
        if unknown:
            raise ValueError(
                f'dataset.corruptions of CIFARC has unknown names {unknown}; '
                f'the archives hold {known}')
        if len(set(corruptions)) != len(corruptions):
            raise ValueError('dataset.corruptions of CIFARC lists a name '
                             f'twice: {list(corruptions)}')
        return tuple(corruptions)

    @staticmethod
    def _parse_severities(severities: Severities) -> Tuple[int, ...]:
        """Check ``severities``: distinct ints in ``1..5``."""
        if isinstance(severities, int) and not isinstance(severities, bool):
            severities = (severities, )
        valid = (
            isinstance(severities, Sequence) and len(severities) > 0 and all(
                isinstance(s, int) and not isinstance(s, bool)
                and 1 <= s <= NUM_SEVERITIES for s in severities))
        if not valid:
            raise ValueError(
                'dataset.severities of CIFARC must be an int or a non-empty '
                f'list of ints in 1..{NUM_SEVERITIES}, got {severities!r}')
        if len(set(severities)) != len(severities):
            raise ValueError('dataset.severities of CIFARC lists a severity '
                             f'twice: {list(severities)}')
        return tuple(severities)

    @property
    def num_classes(self) -> int:
        """int: Number of classes (labels lie in ``[0, num_classes)``)."""
        return len(self.CLASSES)

    def _file(self, name: str) -> str:
        """Path of ``<name>.npy`` under ``data_root``."""
        return osp.join(self.data_root, f'{name}.npy')

    def _open(self, corruption: str) -> np.ndarray:
        """The memory-mapped array of a corruption (opened once)."""
        array = self._arrays.get(corruption)
        if array is None:
            path = self._file(corruption)
            if not osp.isfile(path):
                raise FileNotFoundError(
                    f'CIFARC: corruption file {path} not found (corruption '
                    f'{corruption!r} of dataset.corruptions, data_root='
                    f'{self.data_root!r}); expected layout:\n{_LAYOUT}')
            array = np.load(path, mmap_mode='r', allow_pickle=False)
            self._arrays[corruption] = array
        return array

    def _load_labels(self) -> np.ndarray:
        """Read and check ``labels.npy``; returns the labels as int64."""
        path = self._file('labels')
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'CIFARC: {path} not found (data_root={self.data_root!r}); '
                f'expected layout:\n{_LAYOUT}')
        labels = np.load(path, allow_pickle=False)
        if (labels.ndim != 1 or labels.size == 0
                or labels.size % NUM_SEVERITIES
                or not np.issubdtype(labels.dtype, np.integer)):
            raise ValueError(
                f'CIFARC: {path} must be a 1-D integer array whose length is '
                f'a multiple of {NUM_SEVERITIES} (one label per row of the '
                f'corruption files, e.g. (50000,) uint8), got shape '
                f'{labels.shape} and dtype {labels.dtype}')
        labels = labels.astype(np.int64)
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= self.num_classes:
            raise ValueError(
                f'CIFARC: {path} has labels in [{low}, {high}], outside '
                f'[0, {self.num_classes}) for dataset.cifar={self.cifar!r}')
        return labels

    def load_data_list(self) -> List[dict]:
        """Check the files and list the samples.

        Returns:
            list[dict]: One dict per image with ``gt_label``, ``corruption``,
            ``severity`` and ``img_index``; :meth:`get_data_info` adds
            ``img``.
        """
        labels = self._load_labels()
        per_severity = labels.size // NUM_SEVERITIES
        for corruption in self.corruptions:
            array = self._open(corruption)
            if array.shape[0] != labels.size or array.ndim != 4 or \
                    array.shape[3] != 3 or array.dtype != np.uint8:
                raise ValueError(
                    f'CIFARC: {self._file(corruption)} must be a uint8 array '
                    f'of shape ({labels.size}, H, W, 3) (one RGB image per '
                    f'label of labels.npy, severity-major), got shape '
                    f'{array.shape} and dtype {array.dtype}')
        data_list = []
        for corruption in self.corruptions:
            for severity in self.severities:
                start = (severity - 1) * per_severity
                for row in range(start, start + per_severity):
                    data_list.append(
                        dict(
                            gt_label=int(labels[row]),
                            corruption=corruption,
                            severity=severity,
                            img_index=row))
        return data_list

    def get_data_info(self, idx: int) -> dict:
        """The data info of a sample, with its image read from the file.

        Args:
            idx (int): Index of the sample.

        Returns:
            dict: ``img`` (``(H, W, 3)`` uint8 RGB, a copy), ``gt_label``,
            ``corruption``, ``severity``, ``img_index`` and ``sample_idx``.
        """
        data_info = super().get_data_info(idx)
        data_info['img'] = np.array(
            self._open(data_info['corruption'])[data_info['img_index']])
        return data_info

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return [
            f'Root of dataset: \t{self.data_root}',
            f'CIFAR: \t{self.cifar}',
            f'Corruptions: \t{", ".join(self.corruptions)}',
            f'Severities: \t{self.severities}',
        ]
