"""Pipeline wrapper implementing MixMo's batch repetition."""
import copy
from typing import Callable, List, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.registry import TRANSFORMS

from .crop_flip_views import CropFlipViews


@TRANSFORMS.register_module()
class MemberViews(BaseTransform):
    """MixMo's batch repetition: b x M augmentations of one decoded image.

    Every image the sampler draws fills b slots of each member's batch (so
    ``train_dataloader.batch_size`` counts distinct images, b times fewer
    than the slots), and each of its b x M (member, slot) inputs is a random
    augmentation of its own, as in the authors' code, but made from one
    decoded image. ``results['img']`` becomes M lists of b views, which
    ``PackInputs`` packs and ``MixMoDataPreprocessor`` pairs into slots; the
    other keys (``img_shape``...) stay those of the decoded image::

        train_pipeline = [
            dict(type='LoadImageFromFile'),
            dict(type='MemberViews', num_repeats=2, num_members=2,
                 transforms=[
                     dict(type='RandomResizedCrop', scale=224),
                     dict(type='RandomFlip', prob=0.5)]),
            dict(type='PackInputs'),
        ]

    Transforms of exactly ``RandomResizedCrop`` (cv2 backend) and optionally
    ``RandomFlip`` run fused (:class:`CropFlipViews`): the same random draws
    and pixels, without the per-view Python overhead; the views are slices
    of one channel-first array, which ``PackInputs`` does not copy and which
    is reused once nothing refers to it (the batch holds copies).

    Args:
        transforms (list[dict | callable]): The augmentation of one view.
        num_repeats (int): The batch repetition b >= 1. Defaults to 1.
        num_members (int): The model's number of members M >= 2 (checked
            against ``model.num_members`` by the preprocessor). Defaults
            to 2.
    """

    def __init__(self,
                 transforms: List[Union[dict, Callable]],
                 num_repeats: int = 1,
                 num_members: int = 2) -> None:
        for key, value, low in (('num_repeats', num_repeats, 1),
                                ('num_members', num_members, 2)):
            if not (isinstance(value, int) and value >= low):
                raise ValueError(
                    f'MemberViews.{key} (train_dataloader.dataset.pipeline) '
                    f'must be an int >= {low}, got {value!r}')
        self.augment = Compose([
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in transforms
        ])
        self.num_repeats = num_repeats
        self.num_members = num_members
        self.copy_image = False
        self.fused = CropFlipViews.of(self.augment.transforms)

    def transform(self, results: dict) -> dict:
        """Replace ``results['img']`` by M lists of b augmented views.

        The views share the decoded image, made read-only: copying it for
        every view would cost as much as the augmentation. If a transform
        writes into its input image with numpy or OpenCV (``RandomErasing``
        first), the image is copied for every view from then on.
        """
        image = results['img']
        if (self.fused is not None and isinstance(image, np.ndarray)
                and image.ndim in (2, 3)):
            b = self.num_repeats
            views = self.fused(image, self.num_members * b)
            results['img'] = [
                views[i * b:(i + 1) * b] for i in range(self.num_members)
            ]
            return results
        if self.copy_image:
            return self._views(results, copy.deepcopy)
        image.setflags(write=False)
        try:
            return self._views(results, copy.copy)
        except (ValueError, cv2.error) as error:
            if not any(w in str(error) for w in ('read-only', 'readonly')):
                raise
            self.copy_image = True
            results['img'] = image.copy()
            return self._views(results, copy.deepcopy)

    def _views(self, results: dict, copy_fn: Callable) -> dict:
        results['img'] = [[
            self.augment(copy_fn(results))['img']
            for _ in range(self.num_repeats)
        ] for _ in range(self.num_members)]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(num_repeats={self.num_repeats}, '
                f'num_members={self.num_members}, transforms={self.augment})')
