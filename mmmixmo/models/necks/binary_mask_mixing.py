"""Base class of the mixing blocks where one member owns a binary mask."""
from abc import abstractmethod

import torch
from torch import Tensor

from .base_mixing import BaseMixing


def top_area_masks(scores: Tensor, area: Tensor) -> Tensor:
    """Keep the ``round(area * H * W)`` highest cells of each score map.

    Ties are broken by the sort order, so the area is exact.

    Args:
        scores (Tensor): Score maps ``(B, H, W)``.
        area (Tensor): Requested area ratios in ``[0, 1]``, ``(B, )``.

    Returns:
        Tensor: Float32 binary masks ``(B, H, W)``.
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
    """One member, drawn per batch, owns a binary mask; the others share.

    Per sample ``kappa ~ Dirichlet(alpha)``. The owner A gets the binary mask
    that :meth:`owner_masks` draws for the requested area ``kappa_A``; every
    other member j gets ``(1 - mask_A) * kappa_j / sum_{j != A} kappa_j``
    (the complement for M = 2), as in the authors' code. The real area may
    differ from the requested one: the loss uses the mask means.
    """

    @abstractmethod
    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        """Draw the owner's binary masks.

        Args:
            area (Tensor): Float32 requested area ratios ``(B, )``.
            height (int): Feature height H.
            width (int): Feature width W.

        Returns:
            Tensor: Binary masks ``(B, H, W)``, 1 where the owner is kept.
        """

    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        # float32 masks whatever autocast region the block runs in
        with torch.autocast(device_type=device.type, enabled=False):
            kappa = self.sample_kappa(batch_size, device)
            # the owner stays a tensor (a one-hot over M): no Python branch
            # on a draw, which would break a torch.compile graph
            owner = torch.randint(self.num_members, (1, )).to(device)
            is_owner = torch.arange(self.num_members, device=device) == owner
            area = kappa.gather(1, owner.expand(batch_size, 1)).squeeze(1)
            owner_mask = self.owner_masks(area, height, width).to(
                device=device, dtype=torch.float32)
            others = kappa.masked_fill(is_owner, 0)
            total = others.sum(dim=1, keepdim=True)
            # kappa_A == 1 in float32: split the (empty) rest evenly
            even = torch.full_like(others, 1 / (self.num_members - 1))
            even = even.masked_fill(is_owner, 0)
            shares = torch.where(total > 0, others / total.clamp_min(1e-30),
                                 even)
            masks = (1 - owner_mask).unsqueeze(1) * shares.view(
                batch_size, self.num_members, 1, 1)
            return torch.where(is_owner.view(1, -1, 1, 1),
                               owner_mask.unsqueeze(1), masks)
