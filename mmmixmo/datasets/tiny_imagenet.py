"""Tiny ImageNet (200 classes, 64x64 images) in its original folder layout."""
from typing import Dict, List, Optional, Tuple

from mmengine.fileio import BaseStorageBackend, get_file_backend
from mmengine.logging import MMLogger
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

_LAYOUT = """\
data_root/
├── wnids.txt                 one wnid per line; defines the class order
├── words.txt                 optional, "<wnid>\\t<name>[, <synonym>...]"
├── train/<wnid>/images/*.JPEG     (train/<wnid>/<wnid>_boxes.txt ignored)
├── val/val_annotations.txt   "<file>\\t<wnid>[\\t<bbox>...]" per line
├── val/images/*.JPEG
└── test/images/*.JPEG        (unlabelled)"""


@DATASETS.register_module()
class TinyImageNet(BaseDataset):
    """`Tiny ImageNet <http://cs231n.stanford.edu/tiny-imagenet-200.zip>`_.

    Reads the archive ``tiny-imagenet-200.zip`` as extracted, without any
    re-organisation of the validation folder::

        data_root/
        ├── wnids.txt                  # 200 wnids, one per line
        ├── words.txt                  # optional: "<wnid>\\t<names>"
        ├── train/
        │   ├── n01443537/
        │   │   ├── images/
        │   │   │   ├── n01443537_0.JPEG
        │   │   │   └── ...
        │   │   └── n01443537_boxes.txt   # ignored
        │   └── ...
        ├── val/
        │   ├── val_annotations.txt    # "<file>\\t<wnid>\\t<x0>\\t<y0>..."
        │   └── images/
        │       ├── val_0.JPEG
        │       └── ...
        └── test/
            └── images/
                ├── test_0.JPEG
                └── ...

    Class order is the line order of ``wnids.txt`` (label ``i`` is the wnid on
    line ``i``, blank lines skipped), the order shipped with the archive.
    Class names are the first synonym of each wnid in ``words.txt`` when that
    file exists (``'n01443537\\tgoldfish, Carassius auratus'`` ->
    ``'goldfish'``); without ``words.txt`` (or for a wnid it does not list,
    with a warning) the name is the wnid itself. The wnids stay available as
    :attr:`wnids`. Names given through ``metainfo=dict(classes=...)`` or
    ``classes`` take precedence but must have one entry per wnid.

    Train samples are ordered by class, then by file name; validation samples
    follow the line order of ``val_annotations.txt`` (the bounding boxes are
    not used). ``split='test'`` yields unlabelled samples (only ``img_path``),
    since Tiny ImageNet publishes no test labels.

    Files are accessed through the :mod:`mmengine.fileio` backend inferred
    from ``data_root`` (as :class:`mmpretrain.datasets.CustomDataset` does),
    so local folders and object storage prefixes both work. ``wnids.txt``
    and ``words.txt`` are read at construction, also with ``lazy_init=True``,
    so that ``metainfo`` is always complete; the sample list is built by
    :meth:`load_data_list`.

    Args:
        data_root (str): The ``tiny-imagenet-200`` folder. Defaults to ''
            (the current directory).
        split (str): ``'train'``, ``'val'`` or ``'test'``.
            Defaults to ``'train'``.
        metainfo (dict, optional): Meta information; ``classes`` replaces the
            names read from ``words.txt``. Defaults to None.
        lazy_init (bool): Whether to defer building the sample list until
            :meth:`full_init`. Defaults to False.
        extensions (Sequence[str]): Image file extensions to keep (case
            insensitive). Defaults to :attr:`IMG_EXTENSIONS`.
        **kwargs: Other keyword arguments of
            :class:`mmpretrain.datasets.BaseDataset` (``pipeline``,
            ``test_mode``, ``indices``, ``classes``...). ``ann_file`` and
            ``data_prefix`` are fixed by the layout and may not be given.

    Raises:
        ValueError: ``split`` is unknown, ``wnids.txt`` is empty or has
            duplicates, ``val_annotations.txt`` is malformed or names a wnid
            that is not in ``wnids.txt``, a train class has no image, or
            ``classes`` does not have one name per wnid.
        FileNotFoundError: ``wnids.txt``, the split folder, a train class
            folder, ``val_annotations.txt`` or an annotated val image is
            missing.

    Examples:
        >>> from mmmixmo.datasets import TinyImageNet
        >>> train = TinyImageNet('data/tiny-imagenet-200', split='train')
        >>> len(train), len(train.CLASSES)
        (100000, 200)
        >>> val = TinyImageNet('data/tiny-imagenet-200', split='val')
        >>> len(val)
        10000
    """

    IMG_EXTENSIONS = ('.jpeg', '.jpg', '.png')
    SPLITS = ('train', 'val', 'test')

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 metainfo: Optional[dict] = None,
                 lazy_init: bool = False,
                 extensions: Tuple[str, ...] = IMG_EXTENSIONS,
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'split must be one of {self.SPLITS}, '
                             f'got {split!r}')
        for key in ('ann_file', 'data_prefix'):
            if key in kwargs:
                raise ValueError(
                    f'{key} is not supported by TinyImageNet: the files are '
                    f'found from data_root and split; expected layout:\n'
                    f'{_LAYOUT}')
        self.split = split
        self.extensions = tuple(ext.lower() for ext in extensions)
        self.backend: BaseStorageBackend = get_file_backend(
            data_root or '.', enable_singleton=True)

        super().__init__(
            ann_file='',
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=dict(img_path=split),
            lazy_init=True,
            **kwargs)

        self._wnids, names = self._load_classes()
        given = self._metainfo.get('classes')
        if given is None:
            self._metainfo['classes'] = names
        elif len(given) != len(self._wnids):
            raise ValueError(
                f'metainfo.classes (or classes) has {len(given)} names but '
                f'wnids.txt under {data_root!r} lists {len(self._wnids)} '
                f'wnids')

        if not lazy_init:
            self.full_init()

    @property
    def wnids(self) -> Tuple[str, ...]:
        """tuple[str]: The WordNet ids, in label order (``wnids.txt``)."""
        return self._wnids

    def _path(self, *parts: str) -> str:
        """Join ``parts`` under ``data_root`` with the storage backend."""
        return self.backend.join_path(self.data_root or '.', *parts)

    def _load_classes(self) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
        """Read ``wnids.txt`` and the optional ``words.txt``.

        Returns:
            tuple[tuple[str], tuple[str]]: The wnids in file order and the
            class name of each (first synonym in ``words.txt``, else wnid).
        """
        wnids_file = self._path('wnids.txt')
        if not self.backend.exists(wnids_file):
            raise FileNotFoundError(
                f'TinyImageNet: {wnids_file} not found (data_root='
                f'{self.data_root!r}); expected layout:\n{_LAYOUT}')
        wnids = tuple(line.strip()
                      for line in self.backend.get_text(wnids_file).split('\n')
                      if line.strip())
        if not wnids:
            raise ValueError(f'TinyImageNet: {wnids_file} lists no wnid')
        if len(set(wnids)) != len(wnids):
            dups = sorted({w for w in wnids if wnids.count(w) > 1})
            raise ValueError(
                f'TinyImageNet: {wnids_file} lists wnids twice: {dups}')

        words_file = self._path('words.txt')
        if not self.backend.exists(words_file):
            return wnids, wnids
        words: Dict[str, str] = {}
        for line in self.backend.get_text(words_file).split('\n'):
            wnid, sep, synonyms = line.strip().partition('\t')
            if sep and synonyms.strip():
                words[wnid] = synonyms.split(',')[0].strip()
        unnamed = [w for w in wnids if w not in words]
        if unnamed:
            MMLogger.get_current_instance().warning(
                f'TinyImageNet: {words_file} has no name for {len(unnamed)} '
                f'wnid(s) (e.g. {unnamed[:3]}); their wnid is used as name')
        return wnids, tuple(words.get(w, w) for w in wnids)

    def _list_images(self, folder: str) -> List[str]:
        """Sorted image file names (not paths) directly inside ``folder``."""
        files = self.backend.list_dir_or_file(
            folder, list_dir=False, list_file=True, recursive=False)
        return sorted(f for f in files if f.lower().endswith(self.extensions))

    def load_data_list(self) -> List[dict]:
        """Build the samples of :attr:`split`.

        Returns:
            list[dict]: One dict per image with ``img_path`` and, for the
            train and val splits, ``gt_label`` (int, index in :attr:`wnids`).
        """
        split_dir = self.img_prefix
        if not self.backend.isdir(split_dir):
            raise FileNotFoundError(
                f'TinyImageNet: split folder {split_dir} not found '
                f'(split={self.split!r}, data_root={self.data_root!r}); '
                f'expected layout:\n{_LAYOUT}')
        if self.split == 'train':
            return self._load_train(split_dir)
        if self.split == 'val':
            return self._load_val(split_dir)
        return self._load_test(split_dir)

    def _load_train(self, split_dir: str) -> List[dict]:
        """Samples from ``train/<wnid>/images/``, in wnid then name order."""
        data_list = []
        for label, wnid in enumerate(self._wnids):
            img_dir = self.backend.join_path(split_dir, wnid, 'images')
            if not self.backend.isdir(img_dir):
                raise FileNotFoundError(
                    f'TinyImageNet: train class folder {img_dir} not found '
                    f'(wnid {wnid!r} is on line {label + 1} of wnids.txt); '
                    f'expected layout:\n{_LAYOUT}')
            names = self._list_images(img_dir)
            if not names:
                raise ValueError(
                    f'TinyImageNet: no image with extension in '
                    f'{self.extensions} in train class folder {img_dir}')
            data_list.extend(
                dict(
                    img_path=self.backend.join_path(img_dir, name),
                    gt_label=label) for name in names)
        extra = set(
            self.backend.list_dir_or_file(
                split_dir, list_dir=True, list_file=False,
                recursive=False)) - set(self._wnids)
        if extra:
            MMLogger.get_current_instance().warning(
                f'TinyImageNet: ignoring {len(extra)} folder(s) of '
                f'{split_dir} not listed in wnids.txt: {sorted(extra)[:5]}')
        return data_list

    def _load_val(self, split_dir: str) -> List[dict]:
        """Samples from ``val/images/`` labelled by ``val_annotations.txt``."""
        ann_file = self.backend.join_path(split_dir, 'val_annotations.txt')
        img_dir = self.backend.join_path(split_dir, 'images')
        for path in (ann_file, img_dir):
            if not self.backend.exists(path):
                raise FileNotFoundError(
                    f'TinyImageNet: {path} not found (split=\'val\', '
                    f'data_root={self.data_root!r}); expected layout:\n'
                    f'{_LAYOUT}')
        wnid_to_label = {wnid: i for i, wnid in enumerate(self._wnids)}
        available = set(self._list_images(img_dir))
        data_list, missing = [], []
        lines = self.backend.get_text(ann_file).split('\n')
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            fields = line.strip().split('\t')
            if len(fields) < 2:
                raise ValueError(
                    f'TinyImageNet: line {lineno} of {ann_file} must be '
                    f'"<file>\\t<wnid>[\\t<bbox>...]" (tab separated), got '
                    f'{line.strip()!r}')
            name, wnid = fields[0], fields[1]
            if wnid not in wnid_to_label:
                raise ValueError(
                    f'TinyImageNet: line {lineno} of {ann_file} labels '
                    f'{name!r} with wnid {wnid!r}, which is not in '
                    f'wnids.txt')
            if name not in available:
                missing.append(name)
            data_list.append(
                dict(
                    img_path=self.backend.join_path(img_dir, name),
                    gt_label=wnid_to_label[wnid]))
        if missing:
            raise FileNotFoundError(
                f'TinyImageNet: {len(missing)} image(s) listed in {ann_file} '
                f'not found in {img_dir}: {missing[:5]}')
        if not data_list:
            raise ValueError(f'TinyImageNet: {ann_file} lists no image')
        return data_list

    def _load_test(self, split_dir: str) -> List[dict]:
        """Unlabelled samples from ``test/images/``, in name order."""
        img_dir = self.backend.join_path(split_dir, 'images')
        if not self.backend.isdir(img_dir):
            raise FileNotFoundError(
                f'TinyImageNet: {img_dir} not found (split=\'test\'); '
                f'expected layout:\n{_LAYOUT}')
        names = self._list_images(img_dir)
        if not names:
            raise ValueError(
                f'TinyImageNet: no image with extension in {self.extensions} '
                f'in {img_dir}')
        return [
            dict(img_path=self.backend.join_path(img_dir, name))
            for name in names
        ]

    def extra_repr(self) -> List[str]:
        """The extra repr information of the dataset."""
        return [
            f'Root of dataset: \t{self.data_root}',
            f'Split: \t{self.split}',
        ]
