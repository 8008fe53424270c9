"""CowMix-MixMo mixing block (thresholded Gaussian-smoothed noise)."""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch import Tensor

from .binary_mask_mixing import (BinaryMaskMixing, check_positive,
                                 top_area_masks)

#: Grid side for which ``CowMixMixing.sigma_range`` is given, in cells.
REFERENCE_SIZE = 32


def gaussian_blur(noise: Tensor, sigma: Tensor, max_sigma: float) -> Tensor:
    """Blur each map with its own Gaussian, by two grouped ``conv2d``.

    The kernel is separable (a row pass then a column pass), truncated at
    ``3 * max_sigma`` and at the grid size (cells further away than the grid
    cannot contribute), normalised to sum 1, with zero ("same") padding.

    Args:
        noise (Tensor): Float32 maps of shape ``(B, H, W)``.
        sigma (Tensor): Float32 standard deviations in cells, shape
            ``(B, )``.
        max_sigma (float): An upper bound of ``sigma``, a Python number so
            that the kernel size needs no device synchronisation.

    Returns:
        Tensor: Blurred maps of shape ``(B, H, W)``.
    """
    batch_size, height, width = noise.shape
    reach = math.ceil(3 * max_sigma)
    out = noise.unsqueeze(0)  # (1, B, H, W): one group per sample
    for dim, size in ((3, width), (2, height)):
        radius = max(0, min(reach, size - 1))
        offsets = torch.arange(
            -radius, radius + 1, device=noise.device, dtype=noise.dtype)
        kernel = torch.exp(-offsets.square().view(1, -1) /
                           (2 * sigma.view(-1, 1).square()))
        kernel = kernel / kernel.sum(dim=1, keepdim=True)
        if dim == 3:
            weight = kernel.view(batch_size, 1, 1, -1)
            padding = (0, radius)
        else:
            weight = kernel.view(batch_size, 1, -1, 1)
            padding = (radius, 0)
        out = F.conv2d(out, weight, padding=padding, groups=batch_size)
    return out.squeeze(0)


def _check_sigma_range(sigma_range: Sequence[float]) -> Tuple[float, float]:
    if (not isinstance(sigma_range, (tuple, list)) or len(sigma_range) != 2):
        raise ValueError('model.mixing.sigma_range must be a pair (low, high) '
                         f'with 0 < low <= high, got {sigma_range!r}')
    low = check_positive(sigma_range[0], 'sigma_range[0]')
    high = check_positive(sigma_range[1], 'sigma_range[1]')
    if low > high:
        raise ValueError('model.mixing.sigma_range must be a pair (low, high) '
                         f'with 0 < low <= high, got {sigma_range!r}')
    return low, high


@MODELS.register_module()
class CowMixMixing(BinaryMaskMixing):
    """CowMix-MixMo: one member owns a thresholded smooth-noise mask.

    The mixing of :class:`~mmmixmo.models.necks.BinaryMaskMixing` (per-sample
    ``kappa ~ Dirichlet(alpha)``, one owner ``A`` per batch, the others share
    the complement in proportion to their ``kappa``) with CowMask's masks
    (French et al., "Milking CowMask for Semi-Supervised Image
    Classification", 2020): per sample, white noise ``N(0, 1)`` on the grid is
    smoothed by a Gaussian of standard deviation ``sigma`` (log-uniform in
    ``sigma_range`` per sample, see :func:`gaussian_blur`) and thresholded at
    its per-sample quantile ``1 - kappa_A``: the ``round(kappa_A * H * W)``
    highest cells are 1 (ties broken by the sort order, see
    :func:`~mmmixmo.models.necks.binary_mask_mixing.top_area_masks`), so the
    owner's area is exact. CowMask thresholds with the Gaussian quantile
    function instead, whose area is only right on average.

    ``sigma_range`` is given in cells of a 32x32 grid, the default (4, 16)
    being CowMask's CIFAR range on 32x32 images; MixMo's masks live on a
    32x32 feature grid for both CIFAR and Tiny ImageNet, so it applies as
    is. On another grid the sigmas are scaled by ``sqrt(H * W) / 32``.
    Used in the paper's mixing-block ablation (CIFAR-100, WRN-28-10, M = 2:
    84.17 top-1).

    Args:
        num_members (int): Number of members ``M`` (>= 2). Defaults to 2.
        alpha (float): Dirichlet concentration (> 0). Defaults to 2.0, the
            MixMo authors' value.
        sigma_range (Sequence[float]): ``(low, high)`` with
            ``0 < low <= high``: the Gaussian's standard deviation is drawn
            log-uniformly in it, in cells of a 32x32 grid.
            Defaults to (4.0, 16.0).
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: float = 2.0,
                 sigma_range: Sequence[float] = (4.0, 16.0),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            num_members=num_members, alpha=alpha, init_cfg=init_cfg)
        self.sigma_range = _check_sigma_range(sigma_range)

    def sample_sigma(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        """Draw the per-sample smoothing scales, in cells of the grid.

        Args:
            batch_size (int): Number of samples ``B``.
            height (int): Grid height ``H``.
            width (int): Grid width ``W``.
            device (torch.device): Where to draw them.

        Returns:
            Tensor: Float32 sigmas of shape ``(B, )``, log-uniform in
            ``sigma_range * sqrt(H * W) / 32``.
        """
        low, high = (math.log(s) for s in self.sigma_range)
        log_sigma = torch.rand(batch_size, device=device) * (high - low) + low
        return log_sigma.exp() * self.grid_scale(height, width)

    @staticmethod
    def grid_scale(height: int, width: int) -> float:
        """Factor from cells of a 32x32 grid to cells of an ``H x W`` grid.

        Args:
            height (int): Grid height ``H``.
            width (int): Grid width ``W``.

        Returns:
            float: ``sqrt(H * W) / 32``.
        """
        return math.sqrt(height * width) / REFERENCE_SIZE

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        """Threshold smoothed noise at exactly the requested areas.

        Args:
            area (Tensor): Requested area ratios in ``[0, 1]``, shape
                ``(B, )``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.

        Returns:
            Tensor: Float32 binary masks of shape ``(B, H, W)`` with exactly
            ``round(area * H * W)`` ones each.
        """
        batch_size = area.shape[0]
        device = area.device
        sigma = self.sample_sigma(batch_size, height, width, device)
        noise = torch.randn(batch_size, height, width, device=device)
        max_sigma = self.sigma_range[1] * self.grid_scale(height, width)
        return top_area_masks(gaussian_blur(noise, sigma, max_sigma), area)

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return (f'num_members={self.num_members}, alpha={self.alpha}, '
                f'sigma_range={self.sigma_range}')
