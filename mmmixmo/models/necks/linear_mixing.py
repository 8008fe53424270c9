"""Linear-MixMo (and MIMO) mixing block."""
import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .base_mixing import BaseMixing


@MODELS.register_module()
class LinearMixing(BaseMixing):
    """Linear-MixMo: member i gets the constant weight ``kappa_i``.

    With ``alpha=None`` (kappa fixed at 1/M) the block sums the encodings:
    MIMO (Havasi et al., ICLR 2021).
    """

    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        kappa = self.sample_kappa(batch_size, device)
        return kappa.view(batch_size, self.num_members, 1, 1)
