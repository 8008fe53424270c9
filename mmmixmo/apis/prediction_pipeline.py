"""Bring any image to a model's input as its training did: one pipeline for
the PyTorch and the ONNX Runtime prediction paths."""
import json
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.logging import print_log
from mmpretrain.registry import TRANSFORMS

from ..datasets.model_inputs import (channel_order, innermost_dataset,
                                     input_size, pipeline_img_size,
                                     type_name)

CHANNEL_ORDERS = ('bgr', 'rgb')
#: decoding is the pipeline's first step; packing is replaced by a stack
_DROPPED = ('LoadImageFromFile', 'PackInputs')

ImageInput = Union[str, np.ndarray]


def prediction_transforms(
        cfg: Config,
        img_size: Optional[Tuple[int, int]] = None) -> List[dict]:
    """The transforms from a decoded image to the model's input size.

    A ``Resize`` to ``img_size`` if the test pipeline sets no size (CIFAR-like
    configs: the data set's images all have the training size), then the
    test pipeline without ``LoadImageFromFile`` and ``PackInputs``.

    Args:
        cfg (Config): The model's config, with a ``test_dataloader``.
        img_size (tuple[int, int], optional): ``(H, W)`` of the model's
            input. Defaults to None: :func:`input_size` of ``cfg``.

    Returns:
        list[dict]: Transform configs of mmpretrain's ``TRANSFORMS``, as
        JSON gives them back (lists for tuples), so that the ONNX metadata
        and the PyTorch path build the same transforms.

    Raises:
        ValueError: If the test pipeline sets a size other than ``img_size``
            or the config has no test pipeline.
    """
    if not cfg.get('test_dataloader'):
        raise ValueError('the config has no test_dataloader: the test '
                         'pipeline of its images is unknown')
    dataset = innermost_dataset(cfg.test_dataloader.dataset)
    own_size = pipeline_img_size(dataset)
    want = tuple(img_size) if img_size is not None else (
        own_size or input_size(cfg))
    if own_size is not None and own_size != want:
        raise ValueError(
            f'test_dataloader.dataset.pipeline brings the images to '
            f'{own_size[0]}x{own_size[1]} (H x W), not {want[0]}x{want[1]}')
    transforms = [] if own_size else [
        dict(type='Resize', scale=(want[1], want[0]))
    ]
    transforms += [  # by name: classes (new-style configs) do not JSON
        dict(t, type=type_name(t)) for t in dataset.get('pipeline', [])
        if type_name(t) not in _DROPPED
    ]
    return json.loads(json.dumps(transforms))


def checkpoint_channel_order(meta: Optional[dict], cfg: Config,
                             source: Optional[str]) -> str:
    """The channel order a model trained on: ``meta['channel_order']``
    (``ChannelOrderHook``), else :func:`channel_order` of ``cfg`` (logged).

    Args:
        meta (dict, optional): The checkpoint's ``meta``.
        cfg (Config): The config of the model.
        source (str, optional): The checkpoint, for the messages; None if
            no checkpoint was loaded.

    Returns:
        str: ``'bgr'`` or ``'rgb'``.
    """
    order = (meta or {}).get('channel_order')
    if order is None:
        order = channel_order(cfg)
        reason = (f'{source} has no meta channel_order (saved before '
                  'ChannelOrderHook)' if source else 'no checkpoint loaded')
        print_log(
            f'{reason}: images are given in {order.upper()}, as the '
            f'pipelines of {cfg.filename or "the config"} read them',
            logger='current')
    elif order not in CHANNEL_ORDERS:
        raise ValueError(f'{source}: meta channel_order must be one of '
                         f'{CHANNEL_ORDERS}, got {order!r}')
    return order


class PredictionPipeline:
    """Decode an image, convert it to the model's channel order and size.

    Files are decoded by ``LoadImageFromFile`` (BGR, any size, grey or
    colour, as the file pipelines of training) and converted to
    ``channel_order``; arrays are taken as already in ``channel_order``
    (``(H, W)`` and ``(H, W, 1)`` grey ones are repeated to 3 channels).
    Then ``transforms`` (see :func:`prediction_transforms`) run.

    Args:
        transforms (list[dict]): The transform configs.
        channel_order (str): ``'bgr'`` or ``'rgb'``: that of the training
            images.
    """

    def __init__(self, transforms: List[dict], channel_order: str) -> None:
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}'
                             f', got {channel_order!r}')
        self.channel_order = channel_order
        self.decode = TRANSFORMS.build(dict(type='LoadImageFromFile'))
        self.transforms = Compose([TRANSFORMS.build(t) for t in transforms])

    def __call__(self, image: ImageInput) -> np.ndarray:
        """One image, ready for the model.

        Args:
            image (str | np.ndarray): A file, or an array ``(H, W)``,
                ``(H, W, 1)`` or ``(H, W, 3)`` in ``channel_order``.

        Returns:
            np.ndarray: ``(3, H, W)``, the model's input size, the dtype of
            the decoded image (uint8 for files).

        Raises:
            FileNotFoundError | ValueError: If a file cannot be read or
                decoded (the message names it), or an array has another
                shape.
        """
        if isinstance(image, str):
            img = self.decode(dict(img_path=image))['img']
            if self.channel_order == 'rgb':
                img = img[..., ::-1]
        else:
            img = np.asarray(image)
            if img.ndim == 2:
                img = img[..., None]
            if img.ndim != 3 or img.shape[2] not in (1, 3):
                raise ValueError('an image array must be (H, W), (H, W, 1) or'
                                 f' (H, W, 3), got shape {img.shape}')
            if img.shape[2] == 1:
                img = np.repeat(img, 3, axis=2)
        img = np.ascontiguousarray(img)
        results = self.transforms(
            dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2]))
        return np.ascontiguousarray(results['img'].transpose(2, 0, 1))

    @staticmethod
    def stack(images: Sequence[np.ndarray]) -> np.ndarray:
        """``(B, 3, H, W)`` of images of one size.

        Raises:
            ValueError: If the test pipeline left images of several sizes.
        """
        shapes = sorted({tuple(image.shape) for image in images})
        if len(shapes) > 1:
            raise ValueError(
                f'the test pipeline gives images of several sizes {shapes}: '
                'predict them one at a time (batch size 1), or end the test '
                'pipeline with a crop or resize')
        return np.stack(images)
