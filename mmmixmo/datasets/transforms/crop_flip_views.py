"""``RandomResizedCrop`` then ``RandomFlip`` for many views of one image."""
import bisect
import math
import sys
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from mmcv.image.geometric import cv2_interp_codes
from mmcv.transforms import RandomFlip
from mmpretrain.datasets.transforms import RandomResizedCrop

# cv2.flip's code of each direction of mmcv's imflip
FLIP_CODES = dict(horizontal=1, vertical=0, diagonal=-1)
POOL_SIZE = 64  # arrays of views kept for reuse (a batch's images or more)


def refcounts(arrays: List[np.ndarray]) -> List[int]:
    """``sys.getrefcount`` of each array, as seen from this loop."""
    return [sys.getrefcount(array) for array in arrays]


# an array referred to by its list only (measured: the count is the
# interpreter's business)
FREE_REFS = refcounts([np.empty(0)])[0]


class CropFlipViews:
    """mmpretrain's ``RandomResizedCrop`` (cv2 backend), then optionally
    mmcv's ``RandomFlip``, without their per-view Python overhead.

    Same draws from numpy's global generator, in the same order, and the
    same pixels as the two transforms: the crop box by their arithmetic,
    one ``cv2.resize`` of the crop (mmcv's call), ``cv2.flip`` for
    ``np.flip``, and the flip's ``np.random.choice`` as its single uniform
    draw against the same cumulative probabilities.

    Args:
        crop (RandomResizedCrop): The crop and resize.
        flip (RandomFlip, optional): The flip after it. Defaults to None.
    """

    def __init__(self,
                 crop: RandomResizedCrop,
                 flip: Optional[RandomFlip] = None) -> None:
        self.crop = crop
        self.log_ratio = tuple(math.log(r) for r in crop.aspect_ratio_range)
        self.size = (crop.scale[1], crop.scale[0])  # cv2's (w, h)
        self.interpolation = cv2_interp_codes[crop.interpolation]
        self.flip_cdf: List[float] = []
        self.flip_codes: List[Optional[int]] = [None]
        if flip is not None:
            directions = ([flip.direction] if isinstance(flip.direction, str)
                          else list(flip.direction))
            if isinstance(flip.prob, list):
                probs = flip.prob + [1 - sum(flip.prob)]
            else:
                probs = [flip.prob / len(directions)] * len(directions)
                probs.append(1. - flip.prob)
            cdf = np.cumsum(probs, dtype=np.float64)
            self.flip_cdf = (cdf / cdf[-1]).tolist()
            self.flip_codes = [FLIP_CODES[d] for d in directions] + [None]
        self.pool: List[np.ndarray] = []

    def __getstate__(self) -> dict:
        return dict(self.__dict__, pool=[])  # copies start without arrays

    @classmethod
    def of(cls, transforms: Sequence) -> Optional['CropFlipViews']:
        """The fused views of ``transforms``, else None.

        Returns:
            CropFlipViews | None: For exactly ``[RandomResizedCrop]`` or
            ``[RandomResizedCrop, RandomFlip]`` (not subclasses), the crop
            on the cv2 backend.
        """
        kinds = [type(t) for t in transforms]
        if (kinds not in ([RandomResizedCrop], [RandomResizedCrop, RandomFlip])
                or transforms[0].backend != 'cv2'):
            return None
        return cls(*transforms)

    def crop_box(self, height: int, width: int) -> Tuple[int, int, int, int]:
        """``(top, left, h, w)``: ``RandomResizedCrop.rand_crop_params``."""
        crop = self.crop
        area = height * width
        for _ in range(crop.max_attempts):
            target_area = np.random.uniform(*crop.crop_ratio_range) * area
            aspect_ratio = math.exp(np.random.uniform(*self.log_ratio))
            w = int(round(math.sqrt(target_area * aspect_ratio)))
            h = int(round(math.sqrt(target_area / aspect_ratio)))
            if 0 < w <= width and 0 < h <= height:
                return (np.random.randint(0, height - h + 1),
                        np.random.randint(0, width - w + 1), h, w)
        # no draw fits: the central crop, the aspect ratio clipped to range
        low, high = sorted(crop.aspect_ratio_range)
        w, h = width, height
        if width / height < low:
            h = int(round(width / low))
        elif width / height > high:
            w = int(round(height * high))
        return (height - h) // 2, (width - w) // 2, h, w

    def free_array(self, shape: tuple, dtype: np.dtype) -> np.ndarray:
        """An array of the pool that nothing else refers to any more, else a
        new one, pooled while the pool is not full.

        Note: fresh memory costs a page fault per 4 KiB page at first touch,
        on the development VM about as much as resizing the views. Views
        handed out (numpy views, the tensors ``PackInputs`` makes of them)
        refer to their array: it is reused once they are all gone (the
        default collate copies them into the batch).
        """
        for array, refs in zip(self.pool, refcounts(self.pool)):
            if refs == FREE_REFS and array.shape == shape and \
                    array.dtype == dtype:
                return array
        array = np.empty(shape, dtype)
        if len(self.pool) < POOL_SIZE:
            self.pool.append(array)
        return array

    def __call__(self, image: np.ndarray, num_views: int) -> List[np.ndarray]:
        """``num_views`` views of ``image`` ``(H, W[, C])``.

        Returns:
            list[ndarray]: The views, shaped like the transforms' outputs
            (``(h, w, C)``, or ``(h, w)`` for one channel) but slices of
            one C-contiguous ``(num_views, C, h, w)`` array: ``PackInputs``
            takes them without a copy.
        """
        height, width = image.shape[:2]
        channels = image.shape[2] if image.ndim == 3 else 1
        views = self.free_array((num_views, channels, *self.size[::-1]),
                                image.dtype)
        for view in views:
            top, left, h, w = self.crop_box(height, width)
            out = cv2.resize(image[top:top + h, left:left + w], self.size,
                             interpolation=self.interpolation)
            if self.flip_cdf:
                code = self.flip_codes[bisect.bisect_right(
                    self.flip_cdf, np.random.random_sample())]
                if code is not None:
                    cv2.flip(out, code, out)  # in place: out is new
            # channel-last to first into the views' planes, in place
            cv2.split(out, list(view))
        return list(views[:, 0] if channels == 1 else views.transpose(
            0, 2, 3, 1))
