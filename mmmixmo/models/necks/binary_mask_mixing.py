"""The part shared by the binary-mask mixing blocks (CutMix, FMix, ...)."""
from abc import abstractmethod
import math
from typing import Optional

import torch
from torch import Tensor

from .base_mixing import BaseMixing, check_alpha, sample_dirichlet


def check_positive(value: float, key: str) -> float:
    """Validate a finite, strictly positive number of the mixing config.

    Args:
        value (float): The configured value.
        key (str): Its key under ``model.mixing``, for the error message.

    Returns:
        float: ``value`` as a Python float.
    """
    if (isinstance(value, bool) or not isinstance(value, (int, float))
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f'model.mixing.{key} must be a finite number > 0, '
                         f'got {value!r}')
    return float(value)


def complement_masks(owner_mask: Tensor, kappa: Tensor, owner: int) -> Tensor:
    """Give the owner its binary mask and share the rest between the others.

    The members ``j != owner`` split the complement ``1 - owner_mask`` with
    the constant weights ``kappa_j / sum_{j != owner} kappa_j``, as in the
    authors' code for ``M > 2`` (for two members the other member simply
    gets the complement). If that sum underflows to 0 (``kappa_owner == 1``
    in float32) the complement is split evenly instead of dividing by zero.

    Args:
        owner_mask (Tensor): Float32 binary mask of the owner, of shape
            ``(B, H, W)``.
        kappa (Tensor): Float32 requested shares of shape ``(B, M)``.
        owner (int): Index of the owner in ``[0, M)``.

    Returns:
        Tensor: Float32 masks of shape ``(B, M, H, W)`` that sum to 1 over
        ``M`` at every position.
    """
    batch_size, num_members = kappa.shape
    others = kappa.clone()
    others[:, owner] = 0
    total = others.sum(dim=1, keepdim=True)
    even = torch.full_like(others, 1.0 / (num_members - 1))
    even[:, owner] = 0
    shares = torch.where(total > 0, others / total.clamp_min(1e-30), even)

    masks = (1 - owner_mask).unsqueeze(1) * shares.view(
        batch_size, num_members, 1, 1)
    masks[:, owner] = owner_mask
    return masks


def top_area_masks(scores: Tensor, area: Tensor) -> Tensor:
    """Binarise score maps keeping exactly ``round(area * H * W)`` cells.

    Per sample the ``k = round(area * H * W)`` cells with the highest score
    become 1 and the others 0 (``torch.round``, i.e. halves to even). Ties
    are broken by the sort order, so the area is exact even with ties: the
    mask mean is ``k / (H * W)``. This is the thresholding of FMix (top-k of
    the Fourier noise) and a per-sample quantile threshold for CowMix.

    Args:
        scores (Tensor): Score maps of shape ``(B, H, W)``.
        area (Tensor): Requested area ratios in ``[0, 1]``, shape ``(B, )``.

    Returns:
        Tensor: Float32 binary masks of shape ``(B, H, W)`` on
        ``scores.device``.
    """
    batch_size, height, width = scores.shape
    num_cells = height * width
    keep = torch.round(area.float().clamp(0, 1) * num_cells).long()
    order = scores.reshape(batch_size, num_cells).argsort(
        dim=1, descending=True)
    rank = torch.arange(num_cells, device=scores.device).view(1, num_cells)
    kept = (rank < keep.to(scores.device).view(batch_size, 1)).float()
    masks = torch.zeros_like(kept).scatter_(1, order, kept)
    return masks.view(batch_size, height, width)


class BinaryMaskMixing(BaseMixing):
    """Base class of the mixing blocks where one member owns a binary mask.

    Per sample ``kappa ~ Dirichlet(alpha, ..., alpha)``. Once per batch an
    owner ``A ~ U{0, ..., M-1}`` is drawn (on the CPU, no device sync); its
    mask is the binary mask that :meth:`owner_masks` builds from the
    requested areas ``kappa_A`` (per-sample geometry), and the other members
    share the complement with the linear weights
    ``kappa_j / sum_{j != A} kappa_j`` (see :func:`complement_masks`). This
    follows the authors' Cut-MixMo code, including for ``M > 2``. The real
    area of the mask may differ from the requested one, so the effective
    ``kappa`` returned by :meth:`forward` is the mask mean, which is what the
    loss weighting must use.

    The masks are drawn in float32 on the features' device with autocast
    disabled, so a bf16/fp16 autocast region cannot change their values.
    Subclasses implement only :meth:`owner_masks`.

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
        """Draw the member that owns the binary mask for the whole batch.

        Returns:
            int: Owner index in ``[0, M)``, drawn uniformly on the CPU.
        """
        return int(torch.randint(self.num_members, (1, )))

    @abstractmethod
    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        """Build the owner's binary masks from the requested areas.

        Args:
            area (Tensor): Float32 requested area ratios in ``[0, 1]``, of
                shape ``(B, )``, on the features' device.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.

        Returns:
            Tensor: Binary (0/1) masks of shape ``(B, H, W)``, 1 where the
            owner's features are kept.
        """

    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        """Draw the owner's binary mask and the complement weights.

        Args:
            batch_size (int): Number of samples ``B``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.
            device (torch.device): Device of the features.

        Returns:
            Tensor: Float32 masks of shape ``(B, M, H, W)``; the owner's is
            binary and the masks sum to 1 over ``M`` at every position.
        """
        with torch.autocast(device_type=device.type, enabled=False):
            kappa = self.sample_kappa(batch_size, device)
            owner = self.sample_owner()
            owner_mask = self.owner_masks(kappa[:, owner], height, width).to(
                device=device, dtype=torch.float32)
            return complement_masks(owner_mask, kappa, owner)

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return f'num_members={self.num_members}, alpha={self.alpha}'
