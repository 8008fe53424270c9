"""An in-distribution test set followed by an out-of-distribution one."""
import copy
from typing import Any, Tuple

from mmengine.dataset import force_full_init
from mmengine.structures import BaseDataElement
from mmpretrain.registry import DATASETS

OOD_LABEL = -1


@DATASETS.register_module()
class OODDataset:
    """An in-distribution test set followed by an OOD set, for OOD detection.

    Sample ``i`` is in-distribution for ``i < len(in_dist)``, else OOD
    sample ``i - len(in_dist)``. The data info of every sample gets
    ``is_ood`` (bool) and ``sample_idx = i`` (the index in this wrapper, so
    unique over the two sets); an OOD sample's ``gt_label`` is
    ``OOD_LABEL = -1``, before the pipeline. ``__getitem__`` also writes
    ``is_ood`` into the metainfo of the packed ``data_samples`` (whatever
    ``PackInputs.meta_keys``), for
    :class:`~mmmixmo.evaluation.metrics.OODMetric`.

    Note: a data preprocessor with ``to_onehot=True`` (set by
    ``batch_augments``) fails on label -1; leave both unset when testing.

    Args:
        in_dist (dict): Config of the in-distribution dataset; its
            ``metainfo`` (classes) is this wrapper's.
        ood (dict): Config of the OOD dataset; without a ``pipeline`` it
            gets a copy of ``in_dist``'s, so both sets are processed alike.
        lazy_init (bool): Whether to defer :meth:`full_init` (the datasets'
            own ``lazy_init`` apply to them). Defaults to False.
    """

    def __init__(self, in_dist: dict, ood: dict,
                 lazy_init: bool = False) -> None:
        for key, cfg in (('in_dist', in_dist), ('ood', ood)):
            if not isinstance(cfg, dict):
                raise TypeError(
                    f'dataset.{key} of OODDataset must be a dataset config '
                    f'(dict), got {type(cfg).__name__}')
        ood = copy.deepcopy(ood)
        if 'pipeline' not in ood and 'pipeline' in in_dist:
            ood['pipeline'] = copy.deepcopy(in_dist['pipeline'])
        self.in_dist = DATASETS.build(copy.deepcopy(in_dist))
        self.ood = DATASETS.build(ood)
        self._metainfo = self.in_dist.metainfo
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        """A copy of the in-distribution dataset's meta information."""
        return copy.deepcopy(self._metainfo)

    def full_init(self) -> None:
        """Fully initialize both datasets."""
        if self._fully_initialized:
            return
        self.in_dist.full_init()
        self.ood.full_init()
        self.num_in_dist = len(self.in_dist)
        self.num_ood = len(self.ood)
        self._fully_initialized = True

    @force_full_init
    def __len__(self) -> int:
        return self.num_in_dist + self.num_ood

    @force_full_init
    def _locate(self, idx: int) -> Tuple[Any, int, bool]:
        """Global index -> (dataset, its index, is_ood)."""
        if not -len(self) <= idx < len(self):
            raise IndexError(
                f'index {idx} out of range for OODDataset of {len(self)} '
                'samples')
        idx %= len(self)
        if idx < self.num_in_dist:
            return self.in_dist, idx, False
        return self.ood, idx - self.num_in_dist, True

    def get_data_info(self, idx: int) -> dict:
        """The data info of sample ``idx``, with ``is_ood`` and the global
        ``sample_idx``."""
        dataset, local_idx, is_ood = self._locate(idx)
        info = dataset.get_data_info(local_idx)
        info['sample_idx'] = idx % len(self)
        info['is_ood'] = is_ood
        if is_ood:
            info['gt_label'] = OOD_LABEL
        return info

    def __getitem__(self, idx: int) -> dict:
        """Sample ``idx`` through its dataset's pipeline."""
        dataset, _, is_ood = self._locate(idx)
        data = dataset.pipeline(self.get_data_info(idx))
        if data is None:
            raise RuntimeError(
                f'the pipeline of OODDataset sample {idx} returned None')
        samples = data.get('data_samples') if isinstance(data, dict) else None
        if not isinstance(samples, (list, tuple)):  # a list: TestTimeAug
            samples = [samples]
        for sample in samples:
            if isinstance(sample, BaseDataElement):
                sample.set_metainfo(dict(is_ood=is_ood))
        return data

    def __repr__(self) -> str:
        sizes = (f'{self.num_in_dist} + {self.num_ood}'
                 if self._fully_initialized else 'not fully initialized')
        return (f'OODDataset({type(self.in_dist).__name__} (in-distribution)'
                f' + {type(self.ood).__name__} (OOD): {sizes})')
