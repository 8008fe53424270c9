"""Cut-MixMo mixing block (CutMix rectangles on the feature grid)."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from ..utils.box_masks import cutmix_box_masks
from .base_mixing import BaseMixing, check_alpha, sample_dirichlet


@MODELS.register_module()
class CutMixing(BaseMixing):
    """Cut-MixMo: one member owns a CutMix rectangle of the feature map.

    Per sample ``kappa ~ Dirichlet(alpha, ..., alpha)``. Once per batch an
    owner ``A ~ U{0, ..., M-1}`` is drawn (on the CPU, no device sync); its
    mask is a CutMix rectangle of requested area ``kappa_A`` (per-sample
    geometry, see :func:`~mmmixmo.models.utils.cutmix_box_masks`), and the
    other members share the complement with the linear weights
    ``kappa_j / sum_{j != A} kappa_j`` (for two members the other one simply
    gets the complement). This follows the authors' code, including for
    ``M > 2``. Because the rectangle is clipped at the borders its real area
    is smaller than requested, so the effective ``kappa`` returned by
    :meth:`forward` is the mask mean (about 0.31 on average for the owner
    with ``Beta(2, 2)`` on a 32x32 grid), which is what the loss weighting
    must use.

    Args:
        num_members (int): Number of members ``M`` (>= 2). Defaults to 2.
        alpha (float): Dirichlet concentration (> 0). Defaults to 2.0, the
            authors' value.
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: float = 2.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_members=num_members, init_cfg=init_cfg)
        self.alpha = check_alpha(alpha)

    def sample_kappa(self, batch_size: int, device: torch.device) -> Tensor:
        """Draw the requested per-sample shares.

        Args:
            batch_size (int): Number of samples ``B``.
            device (torch.device): Device of the features.

        Returns:
            Tensor: Float32 ``kappa`` of shape ``(B, M)``, rows summing to 1.
        """
        return sample_dirichlet(self.alpha, batch_size, self.num_members,
                                device)

    def sample_owner(self) -> int:
        """Draw the member that owns the rectangle for the whole batch.

        Returns:
            int: Owner index in ``[0, M)``, drawn uniformly on the CPU.
        """
        return int(torch.randint(self.num_members, (1, )))

    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        """Draw the rectangle of the owner and the complement weights.

        Args:
            batch_size (int): Number of samples ``B``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.
            device (torch.device): Device of the features.

        Returns:
            Tensor: Float32 masks of shape ``(B, M, H, W)``; the owner's is
            binary and the masks sum to 1 over ``M`` at every position.
        """
        kappa = self.sample_kappa(batch_size, device)
        owner = self.sample_owner()
        box = cutmix_box_masks(kappa[:, owner], height, width).to(
            device=device, dtype=torch.float32)

        others = kappa.clone()
        others[:, owner] = 0
        total = others.sum(dim=1, keepdim=True)
        # Guard against an underflowed sum (kappa_A == 1 in float32): split
        # the complement evenly rather than dividing by zero.
        even = torch.full_like(others, 1.0 / (self.num_members - 1))
        even[:, owner] = 0
        shares = torch.where(total > 0, others / total.clamp_min(1e-30), even)

        masks = (1 - box).unsqueeze(1) * shares.view(batch_size,
                                                     self.num_members, 1, 1)
        masks[:, owner] = box
        return masks

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return f'num_members={self.num_members}, alpha={self.alpha}'
