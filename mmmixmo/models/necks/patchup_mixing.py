"""PatchUp-MixMo mixing block (random square patches of the feature grid)."""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .binary_mask_mixing import BinaryMaskMixing


def _check_patch_size(
        patch_size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    sizes = patch_size
    if not isinstance(sizes, (tuple, list)):
        sizes = (sizes, sizes)
    if len(sizes) != 2 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1
            for s in sizes):
        raise ValueError('model.mixing.patch_size must be an integer >= 1 or '
                         f'a pair of them (height, width), got {patch_size!r}')
    return int(sizes[0]), int(sizes[1])


@MODELS.register_module()
class PatchUpMixing(BinaryMaskMixing):
    """PatchUp-MixMo: one member owns random patches of the feature map.

    The mixing of :class:`~mmmixmo.models.necks.BinaryMaskMixing` (per-sample
    ``kappa ~ Dirichlet(alpha)``, one owner ``A`` per batch, the others share
    the complement in proportion to their ``kappa``) with block masks in the
    spirit of PatchUp (Faramarzi et al., "PatchUp: A Feature-Space Block-Level
    Regularization Technique for Convolutional Neural Networks", 2020): the
    grid is cut into non-overlapping ``patch_size`` patches (those at the
    bottom and right borders are cropped when the size does not divide the
    grid) and each patch goes to the owner independently with probability
    ``kappa_A``. Every cell therefore belongs to the owner with probability
    ``kappa_A``: the owner's area is ``kappa_A`` in expectation (its
    variance is ``kappa_A (1 - kappa_A) / n`` for ``n`` equal patches), and
    the effective ``kappa`` is the mask mean.

    PatchUp itself drops DropBlock-style overlapping blocks of side 7, whose
    expected area is not linear in the drop probability; the
    non-overlapping grid keeps the expected area exactly at ``kappa_A``. The
    default 4x4 patches give an 8x8 patch grid on MixMo's 32x32 feature grid
    (neither the method doc nor the issue gives the authors' value). Used in
    the paper's mixing-block ablation (CIFAR-100, WRN-28-10, M = 2: 84.16
    top-1).

    Args:
        num_members (int): Number of members ``M`` (>= 2). Defaults to 2.
        alpha (float): Dirichlet concentration (> 0). Defaults to 2.0, the
            MixMo authors' value.
        patch_size (int | Sequence[int]): Patch side in cells, or
            ``(height, width)``. Defaults to 4.
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: float = 2.0,
                 patch_size: Union[int, Sequence[int]] = 4,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            num_members=num_members, alpha=alpha, init_cfg=init_cfg)
        self.patch_size = _check_patch_size(patch_size)

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        """Give each patch to the owner with probability ``area``.

        Args:
            area (Tensor): Requested area ratios in ``[0, 1]``, shape
                ``(B, )``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.

        Returns:
            Tensor: Float32 binary masks of shape ``(B, H, W)``, constant on
            every patch.
        """
        patch_h, patch_w = self.patch_size
        rows = -(-height // patch_h)
        cols = -(-width // patch_w)
        draws = torch.rand(area.shape[0], rows, cols, device=area.device)
        owned = (draws < area.float().view(-1, 1, 1)).float()
        owned = owned.repeat_interleave(patch_h, dim=1)
        owned = owned.repeat_interleave(patch_w, dim=2)
        return owned[:, :height, :width].contiguous()

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return (f'num_members={self.num_members}, alpha={self.alpha}, '
                f'patch_size={self.patch_size}')
