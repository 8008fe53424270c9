"""CowMix-MixMo mixing block."""
import math
from typing import Sequence

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

from .binary_mask_mixing import BinaryMaskMixing, top_area_masks


@MODELS.register_module()
class CowMixMixing(BinaryMaskMixing):
    """CowMix-MixMo: the owner keeps the top cells of smoothed noise.

    As CowMask (French et al., 2020): white noise blurred by a Gaussian whose
    sigma is log-uniform in ``sigma_range`` per sample; the owner keeps its
    ``round(kappa_A * H * W)`` highest cells, an exact area where CowMask's
    Gaussian-quantile threshold is right only on average.

    Args:
        sigma_range (Sequence[float]): ``(low, high)``, ``0 < low <= high``,
            in cells of a 32x32 grid (MixMo's feature grid; CowMask's CIFAR
            range by default); other grids scale it by ``sqrt(H * W) / 32``.
            Defaults to (4.0, 16.0).
        **kwargs: ``num_members``, ``alpha`` and ``init_cfg`` of
            :class:`BaseMixing`.
    """

    def __init__(self,
                 sigma_range: Sequence[float] = (4.0, 16.0),
                 **kwargs) -> None:
        super().__init__(**kwargs)
        low, high = sigma_range
        if not 0 < low <= high < math.inf:
            raise ValueError('model.mixing.sigma_range must be (low, high) '
                             f'with 0 < low <= high < inf, got {sigma_range}')
        self.sigma_range = (float(low), float(high))

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        batch_size, device = area.shape[0], area.device
        grid_scale = math.sqrt(height * width) / 32
        low, high = (math.log(s) for s in self.sigma_range)
        log_sigma = torch.rand(batch_size, device=device) * (high - low) + low
        sigma = log_sigma.exp() * grid_scale
        noise = torch.randn(batch_size, height, width, device=device)
        # separable blur, one group per sample, truncated at 3 max sigma
        reach = math.ceil(3 * self.sigma_range[1] * grid_scale)
        out = noise.unsqueeze(0)
        for dim, size in ((3, width), (2, height)):
            radius = max(0, min(reach, size - 1))
            offsets = torch.arange(-radius, radius + 1, device=device,
                                   dtype=noise.dtype)
            kernel = torch.exp(-offsets.square().view(1, -1) /
                               (2 * sigma.view(-1, 1).square()))
            kernel = kernel / kernel.sum(dim=1, keepdim=True)
            if dim == 3:
                weight, padding = kernel.view(batch_size, 1, 1, -1), (0,
                                                                      radius)
            else:
                weight, padding = kernel.view(batch_size, 1, -1, 1), (radius,
                                                                      0)
            out = F.conv2d(out, weight, padding=padding, groups=batch_size)
        return top_area_masks(out.squeeze(0), area)
