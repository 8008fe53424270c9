"""Base class of the MixMo mixing blocks."""
import math
from abc import abstractmethod
from typing import List, Optional, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor


class BaseMixing(BaseModule):
    """Merge the M member encodings into one feature map for the shared core.

    Per sample the block draws member weight maps ``mask_i`` that sum to 1 at
    every position and returns ``M * sum_i mask_i * l_i``; the factor M
    keeps the scale of the test-time input, where every member sees the same
    image and the encodings are summed (see ``MemberEncoders``). The masks
    are float32 and drawn with autocast off by subclasses that need it.

    Args:
        num_members (int): Number of members M. Defaults to 2.
        alpha (float, optional): Concentration of the symmetric Dirichlet
            distribution of the shares ``kappa``, or None for the fixed
            ``kappa = 1 / M``. Defaults to 2.0.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: Optional[float] = 2.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if alpha is not None and not 0 < alpha < math.inf:
            raise ValueError(
                f'model.mixing.alpha must be finite and > 0, got {alpha}')
        self.num_members = num_members
        self.alpha = alpha

    def sample_kappa(self, batch_size: int, device: torch.device) -> Tensor:
        """Draw the member shares ``kappa ~ Dirichlet(alpha, ..., alpha)``.

        Returns:
            Tensor: Float32 shares ``(B, M)``, each row summing to 1.
        """
        shape = (batch_size, self.num_members)
        if self.alpha is None:
            return torch.full(shape, 1 / self.num_members, device=device)
        # Normalised Gamma draws, as torch's CPU Dirichlet kernel (the same
        # numbers there), but traceable by torch.compile at a dynamic batch
        # size, which aten._sample_dirichlet is not
        concentration = torch.full((self.num_members, ),
                                   self.alpha,
                                   dtype=torch.float32,
                                   device=device).double()
        gamma = torch.distributions.Gamma(
            concentration, torch.ones_like(concentration),
            validate_args=False).sample((batch_size, ))
        kappa = (gamma / gamma.sum(dim=1, keepdim=True)).float()
        return kappa.clamp(torch.finfo(torch.float32).tiny, 1 - 2**-24)

    @abstractmethod
    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        """Draw the float32 member weight maps ``(B, M, h, w)``.

        ``(h, w)`` is ``(1, 1)`` (constant maps) or ``(H, W)``; the maps sum
        to 1 over M at every position.
        """

    def forward(self, features: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """Mix the member encodings.

        Args:
            features (list[Tensor]): M encodings, each ``(B, C, H, W)``.

        Returns:
            tuple[Tensor, Tensor]: The mixed features ``(B, C, H, W)`` and
            the float32 masks ``(B, M, h, w)``.
        """
        batch_size, _, height, width = features[0].shape
        masks = self.sample_masks(batch_size, height, width,
                                  features[0].device)
        weights = masks.to(features[0].dtype)
        mixed = weights[:, 0:1] * features[0]
        for i in range(1, self.num_members):
            mixed = mixed + weights[:, i:i + 1] * features[i]
        return mixed * self.num_members, masks
