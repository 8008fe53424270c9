"""mmcv's LoadImageFromFile, with an error naming a file it cannot decode."""
from typing import Optional

import mmpretrain.datasets  # noqa: F401  (registers mmcv's first)
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmpretrain.registry import TRANSFORMS


@TRANSFORMS.register_module(force=True)
class LoadImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile``; an undecodable file raises a ValueError
    naming it.

    Same arguments and images as mmcv's. Note: it replaces mmcv's class under
    the same name in mmpretrain's registry, so that every config of the
    ``mmpretrain`` scope gets it: mmcv raises a bare ``cv2.error`` without
    the file name on an empty file, and an ``assert`` (dropped by
    ``python -O``) on a truncated or non-image one. Missing files still
    raise ``FileNotFoundError``; ``ignore_empty=True`` skips them and the
    undecodable ones (mmcv's asserts on the latter).
    """

    def transform(self, results: dict) -> Optional[dict]:
        try:
            return super().transform(results)
        except OSError:
            raise
        except Exception as error:
            if self.ignore_empty:
                return None
            raise ValueError(
                f'cannot decode the image file {results["img_path"]!r}: '
                'empty, truncated or not an image') from error
