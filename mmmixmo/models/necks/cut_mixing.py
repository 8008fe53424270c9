"""Cut-MixMo mixing block."""
from mmpretrain.registry import MODELS
from torch import Tensor

from ..utils.box_masks import cutmix_box_masks
from .binary_mask_mixing import BinaryMaskMixing


@MODELS.register_module()
class CutMixing(BinaryMaskMixing):
    """Cut-MixMo: the owner keeps a CutMix rectangle of the feature map.

    The rectangle is clipped at the borders, so its mean area is about 0.31
    for ``kappa ~ Beta(2, 2)`` on a 32x32 grid, not 0.5.
    """

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        return cutmix_box_masks(area, height, width)
