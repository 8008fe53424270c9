"""PatchUp-MixMo mixing block."""
from typing import Sequence, Union

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .binary_mask_mixing import BinaryMaskMixing


@MODELS.register_module()
class PatchUpMixing(BinaryMaskMixing):
    """PatchUp-MixMo: the owner keeps random patches of the feature map.

    The grid is cut into non-overlapping patches (cropped at the bottom and
    right borders) and each goes to the owner with probability
    ``kappa_A``, so the owner's area is ``kappa_A`` in expectation. PatchUp
    (Faramarzi et al., 2020) drops overlapping DropBlock blocks instead,
    whose expected area is not linear in the probability.

    Args:
        patch_size (int | Sequence[int]): Patch side in cells, or
            ``(height, width)``. Defaults to 4 (an 8x8 patch grid on MixMo's
            32x32 features).
        **kwargs: ``num_members``, ``alpha`` and ``init_cfg`` of
            :class:`BaseMixing`.
    """

    def __init__(self,
                 patch_size: Union[int, Sequence[int]] = 4,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(patch_size, int):
            patch_size = (patch_size, patch_size)
        if min(patch_size) < 1:
            raise ValueError('model.mixing.patch_size must be >= 1, got '
                             f'{patch_size}')
        self.patch_size = tuple(patch_size)

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        patch_h, patch_w = self.patch_size
        rows, cols = -(-height // patch_h), -(-width // patch_w)
        draws = torch.rand(area.shape[0], rows, cols, device=area.device)
        owned = (draws < area.float().view(-1, 1, 1)).float()
        owned = owned.repeat_interleave(patch_h, dim=1)
        owned = owned.repeat_interleave(patch_w, dim=2)
        return owned[:, :height, :width]
