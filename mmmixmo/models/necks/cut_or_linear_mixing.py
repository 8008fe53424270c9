"""Cut-MixMo with a linear fallback: the block of the published runs."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .base_mixing import BaseMixing
from .cut_mixing import CutMixing
from .linear_mixing import LinearMixing


@MODELS.register_module()
class CutOrLinearMixing(BaseMixing):
    """Once per batch, Cut-MixMo with probability ``p``, else Linear-MixMo.

    ``p = prob * prob_factor``. ``prob_factor`` (1.0 by default) is written
    every epoch by :class:`~mmmixmo.engine.hooks.MixingProbHook`, which
    decays ``p`` linearly to 0 over the last epochs as in the authors' code.
    The draw ``u ~ U(0, 1)`` is made on the CPU with the global generator
    (no device synchronisation) and Cut-MixMo is used when ``u < p``, so
    ``p = 1`` always cuts and ``p = 0`` never does.

    Args:
        num_members (int): Number of members ``M`` (>= 2). Defaults to 2.
        alpha (float): Dirichlet concentration (> 0), shared by the cut and
            the linear block. Defaults to 2.0.
        prob (float): Base probability of Cut-MixMo, in ``[0, 1]``.
            Defaults to 0.5, the authors' value.
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: float = 2.0,
                 prob: float = 0.5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_members=num_members, init_cfg=init_cfg)
        if (isinstance(prob, bool) or not isinstance(prob, (int, float))
                or not 0 <= prob <= 1):
            raise ValueError(
                f'model.mixing.prob must be in [0, 1], got {prob!r}')
        self.prob = float(prob)
        self.prob_factor = 1.0
        self.cut = CutMixing(num_members=num_members, alpha=alpha)
        self.linear = LinearMixing(num_members=num_members, alpha=alpha)

    @property
    def effective_prob(self) -> float:
        """float: Current probability of Cut-MixMo, ``prob * prob_factor``."""
        return self.prob * self.prob_factor

    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        """Draw the masks of the cut block or of the linear block.

        Args:
            batch_size (int): Number of samples ``B``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.
            device (torch.device): Device of the features.

        Returns:
            Tensor: Float32 masks of shape ``(B, M, H, W)`` (cut) or
            ``(B, M, 1, 1)`` (linear).
        """
        if float(torch.rand(())) < self.effective_prob:
            return self.cut.sample_masks(batch_size, height, width, device)
        return self.linear.sample_masks(batch_size, height, width, device)

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return (f'num_members={self.num_members}, prob={self.prob}, '
                f'prob_factor={self.prob_factor}')
