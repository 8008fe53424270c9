"""Linear-MixMo (and MIMO) mixing block."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .base_mixing import BaseMixing, check_alpha, sample_dirichlet


@MODELS.register_module()
class LinearMixing(BaseMixing):
    """Linear-MixMo: every member gets a constant weight map.

    Per sample ``kappa ~ Dirichlet(alpha, ..., alpha)`` (``Beta(alpha,
    alpha)`` for two members) and ``mask_i = kappa_i`` at every position, so
    in training the block returns ``M * sum_i kappa_i * l_i``. With
    ``alpha=None`` kappa is fixed at ``1 / M`` and the block is MIMO's
    summing of the inputs (``sum_i l_i`` in training and evaluation).

    Args:
        num_members (int): Number of members ``M`` (>= 2). Defaults to 2.
        alpha (float, optional): Dirichlet concentration (> 0), or None for
            the fixed ``kappa = 1 / M`` of MIMO. Defaults to 2.0, the
            authors' value.
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: Optional[float] = 2.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_members=num_members, init_cfg=init_cfg)
        self.alpha = None if alpha is None else check_alpha(alpha)

    def sample_kappa(self, batch_size: int, device: torch.device) -> Tensor:
        """Draw the per-sample shares.

        Args:
            batch_size (int): Number of samples ``B``.
            device (torch.device): Device of the features.

        Returns:
            Tensor: Float32 ``kappa`` of shape ``(B, M)``, rows summing to 1.
        """
        if self.alpha is None:
            return torch.full((batch_size, self.num_members),
                              1.0 / self.num_members,
                              dtype=torch.float32,
                              device=device)
        return sample_dirichlet(self.alpha, batch_size, self.num_members,
                                device)

    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        """Draw constant weight maps equal to ``kappa``.

        Args:
            batch_size (int): Number of samples ``B``.
            height (int): Feature height ``H`` (unused: the maps are
                constant).
            width (int): Feature width ``W`` (unused).
            device (torch.device): Device of the features.

        Returns:
            Tensor: Float32 masks of shape ``(B, M, 1, 1)``.
        """
        kappa = self.sample_kappa(batch_size, device)
        return kappa.view(batch_size, self.num_members, 1, 1)

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return f'num_members={self.num_members}, alpha={self.alpha}'
