"""What a config's data pipelines say about the images a model takes."""
from typing import Iterator, List, Optional, Sequence, Tuple

from mmengine.config import Config


def type_name(transform: dict) -> str:
    """``'Resize'`` for ``type='Resize'``, ``'mmpretrain.Resize'`` or the
    class itself (new-style configs)."""
    kind = transform['type']
    return (kind if isinstance(kind, str) else kind.__name__).split('.')[-1]


def pipeline_datasets(dataset: dict) -> List[dict]:
    """The dataset configs that hold a pipeline, inside dataset wrappers
    (``dataset``) and ``OODDataset`` (``in_dist`` first, then ``ood`` if it
    has its own pipeline; else it takes ``in_dist``'s)."""
    if 'pipeline' in dataset:
        return [dataset]
    return [
        found for key in ('dataset', 'in_dist', 'ood')
        if isinstance(dataset.get(key), dict)
        for found in pipeline_datasets(dataset[key])
    ]


def innermost_dataset(dataset: dict) -> dict:
    """The first of :func:`pipeline_datasets`: the (in-distribution) dataset
    config holding the pipeline.

    Raises:
        ValueError: For a dataset config without a pipeline (e.g. a
            ``ConcatDataset`` of several).
    """
    found = pipeline_datasets(dataset)
    if not found:
        raise ValueError(
            f'dataset type={dataset.get("type")!r}: no pipeline found in '
            'it nor in a wrapped dataset (dataset=... or in_dist=...)')
    return found[0]


def transform_index(pipeline: Sequence, name: str) -> Optional[int]:
    """The index of the first transform of type ``name`` (see
    :func:`type_name`) in ``pipeline`` (not inside wrappers), else None."""
    return next((i for i, t in enumerate(pipeline) if type_name(t) == name),
                None)


def single_view(pipeline: Sequence) -> list:
    """The pipeline with each ``MemberViews`` replaced by its transforms:
    one augmented view per image."""
    return [
        step for t in pipeline for step in (
            t['transforms'] if type_name(t) == 'MemberViews' else [t])
    ]


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
