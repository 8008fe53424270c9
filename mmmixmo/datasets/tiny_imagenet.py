"""Tiny ImageNet (200 classes, 64x64 images) in its original folder layout."""
from typing import List, Optional, Sequence

from mmengine.fileio import get_file_backend
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS


@DATASETS.register_module()
class TinyImageNet(BaseDataset):
    """Tiny ImageNet, read from the extracted ``tiny-imagenet-200.zip``.

    Label ``i`` is the wnid on line ``i`` of ``wnids.txt``; its name is the
    first synonym in ``words.txt`` (the wnid when not listed). Train samples
    are ``train/<wnid>/images/*`` in label then file-name order; val samples
    are the lines of ``val/val_annotations.txt``; test samples
    (``test/images/*``) have no label. Files go through the mmengine file
    backend of ``data_root``.

    Args:
        data_root (str): The ``tiny-imagenet-200`` folder. Defaults to ''.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
            Defaults to ``'train'``.
        metainfo (dict, optional): ``classes`` replaces the names of
            ``words.txt``. Defaults to None.
        extensions (Sequence[str]): Image file extensions (any case).
            Defaults to ``('.jpeg', '.jpg', '.png')``.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`.
    """

    SPLITS = ('train', 'val', 'test')

    def __init__(self,
                 data_root: str = '',
                 split: str = 'train',
                 metainfo: Optional[dict] = None,
                 extensions: Sequence[str] = ('.jpeg', '.jpg', '.png'),
                 **kwargs) -> None:
        if split not in self.SPLITS:
            raise ValueError(f'dataset.split of TinyImageNet must be one of '
                             f'{self.SPLITS}, got {split!r}')
        self.split = split
        self.extensions = tuple(ext.lower() for ext in extensions)
        root = data_root or '.'
        self.backend = get_file_backend(root, enable_singleton=True)
        # The class names are read now, also with lazy_init.
        lines = self.backend.get_text(self._require(root, 'wnids.txt'))
        self.wnids = tuple(w.strip() for w in lines.split('\n') if w.strip())
        names = dict(zip(self.wnids, self.wnids))
        words_file = self.backend.join_path(root, 'words.txt')
        if self.backend.exists(words_file):
            for line in self.backend.get_text(words_file).split('\n'):
                wnid, _, synonyms = line.strip().partition('\t')
                if wnid in names and synonyms.strip():
                    names[wnid] = synonyms.split(',')[0].strip()
        metainfo = self._compat_classes(
            dict(metainfo or {}), kwargs.pop('classes', None))
        classes = metainfo.setdefault('classes', tuple(names.values()))
        if len(classes) != len(self.wnids):
            raise ValueError(
                f'metainfo.classes (or classes) of TinyImageNet has '
                f'{len(classes)} names but wnids.txt of dataset.data_root='
                f'{data_root!r} lists {len(self.wnids)} wnids')
        super().__init__(ann_file='', metainfo=metainfo, data_root=data_root,
                         data_prefix=dict(img_path=split), **kwargs)

    def _require(self, *parts: str) -> str:
        """The joined path, which must exist."""
        path = self.backend.join_path(*parts)
        if not self.backend.exists(path):
            raise FileNotFoundError(
                f'TinyImageNet: {path} not found (split={self.split!r}); '
                'dataset.data_root must be the extracted '
                'tiny-imagenet-200.zip')
        return path

    def _images(self, folder: str) -> List[str]:
        """Sorted paths of the images directly in ``folder``."""
        files = self.backend.list_dir_or_file(folder, list_dir=False)
        return [
            self.backend.join_path(folder, name) for name in sorted(files)
            if name.lower().endswith(self.extensions)
        ]

    def load_data_list(self) -> List[dict]:
        """One dict per image: ``img_path``, and ``gt_label`` but in test."""
        split_dir = self._require(self.img_prefix)
        if self.split == 'train':
            return [
                dict(img_path=path, gt_label=label)
                for label, wnid in enumerate(self.wnids) for path in
                self._images(self._require(split_dir, wnid, 'images'))
            ]
        img_dir = self._require(split_dir, 'images')
        if self.split == 'test':
            return [dict(img_path=path) for path in self._images(img_dir)]
        ann_file = self._require(split_dir, 'val_annotations.txt')
        labels = {wnid: i for i, wnid in enumerate(self.wnids)}
        images = set(self._images(img_dir))
        data_list = []
        for lineno, line in enumerate(
                self.backend.get_text(ann_file).split('\n'), start=1):
            if not line.strip():
                continue
            fields = line.strip().split('\t')
            if len(fields) < 2 or fields[1] not in labels:
                raise ValueError(
                    f'TinyImageNet: line {lineno} of {ann_file} must be '
                    '"<file>\\t<wnid>..." with a wnid of wnids.txt, got '
                    f'{line.strip()!r}')
            path = self.backend.join_path(img_dir, fields[0])
            if path not in images:
                raise FileNotFoundError(
                    f'TinyImageNet: {path}, on line {lineno} of {ann_file}, '
                    'not found')
            data_list.append(dict(img_path=path, gt_label=labels[fields[1]]))
        return data_list

    def extra_repr(self) -> List[str]:
        return [f'Root of dataset: \t{self.data_root}',
                f'Split: \t{self.split}']
