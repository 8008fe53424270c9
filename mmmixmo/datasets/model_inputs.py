"""What a config's data pipelines say about the images a model takes."""
from typing import Iterator, Optional, Sequence, Tuple

from mmengine.config import Config


def type_name(transform: dict) -> str:
    """``'Resize'`` for ``type='Resize'``, ``'mmpretrain.Resize'`` or the
    class itself (new-style configs)."""
    kind = transform['type']
    return (kind if isinstance(kind, str) else kind.__name__).split('.')[-1]


def innermost_dataset(dataset: dict) -> dict:
    """The dataset config holding the pipeline, inside dataset wrappers
    (``dataset``) and ``OODDataset`` (its ``in_dist``).

    Raises:
        ValueError: For a dataset config without a pipeline (e.g. a
            ``ConcatDataset`` of several).
    """
    while 'pipeline' not in dataset:
        inner = dataset.get('dataset', dataset.get('in_dist'))
        if not isinstance(inner, dict):
            raise ValueError(
                f'dataset type={dataset.get("type")!r}: no pipeline found in '
                'it nor in a wrapped dataset (dataset=... or in_dist=...)')
        dataset = inner
    return dataset


def flat_transforms(pipeline: Sequence) -> Iterator[dict]:
    """The transforms of a pipeline in order, those of wrappers
    (``MemberViews``, ``RandomApply``, ``RandomChoice``...) inline."""
    for transform in pipeline:
        if isinstance(transform, (list, tuple)):
            yield from flat_transforms(transform)
        elif 'transforms' in transform:
            yield from flat_transforms(transform['transforms'])
        else:
            yield transform


def pipeline_img_size(dataset: dict) -> Optional[Tuple[int, int]]:
    """``(H, W)`` of the last crop or resize of a dataset's pipeline.

    Returns:
        tuple[int, int] | None: None if no transform sets the size (CIFAR's
        test pipeline: the images keep the data set's size).
    """
    pipeline = innermost_dataset(dataset).get('pipeline', [])
    for transform in reversed(list(flat_transforms(pipeline))):
        size = transform.get('crop_size', transform.get('scale'))
        if size is not None:  # an int or mmcv's (w, h)
            return (size, size) if isinstance(size, int) else tuple(size[::-1])
    return None


def input_size(cfg: Config) -> Tuple[int, int]:
    """``(H, W)`` of the images the model tests on: the test pipeline's last
    crop or resize, else the train pipeline's (the data set's images keep
    their size at test time, e.g. CIFAR's 32x32)."""
    for name in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        if cfg.get(name):
            size = pipeline_img_size(cfg[name]['dataset'])
            if size is not None:
                return size
    raise ValueError(
        'no crop or resize in test_dataloader.dataset.pipeline nor in '
        'train_dataloader.dataset.pipeline: the input size of the model is '
        "unknown; add dict(type='Resize', scale=(W, H)) to the test pipeline")


def channel_order(cfg: Config) -> str:
    """``'bgr'`` if the data pipelines decode image files (mmcv's
    ``LoadImageFromFile`` decodes them as BGR), else ``'rgb'``: data sets of
    arrays (CIFAR, SVHN, the digits) hold RGB images."""
    for name in ('train_dataloader', 'test_dataloader', 'val_dataloader'):
        if cfg.get(name):
            pipeline = innermost_dataset(cfg[name]['dataset']).get(
                'pipeline', [])
            return 'bgr' if any(
                type_name(t) == 'LoadImageFromFile'
                for t in flat_transforms(pipeline)) else 'rgb'
    raise ValueError('no train_dataloader nor test_dataloader in the config: '
                     'the channel order of its images is unknown')
