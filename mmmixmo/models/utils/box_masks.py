"""CutMix rectangles, for the feature mixing and the pixel CutMix."""
import torch
from torch import Tensor


def cutmix_box_masks(area: Tensor, height: int, width: int) -> Tensor:
    """Draw one CutMix rectangle per sample, as a binary mask.

    As in the CutMix code the MixMo authors reuse: sides
    ``floor(H * sqrt(area))`` x ``floor(W * sqrt(area))``, centre uniform over
    the grid, span ``[c - side // 2, c + side // 2)`` clipped at the borders,
    so the real area is smaller than requested: take the mask mean.

    Args:
        area (Tensor): Requested area ratios in ``[0, 1]``, ``(N, )``.
        height (int): Grid height H.
        width (int): Grid width W.

    Returns:
        Tensor: Float32 masks ``(N, H, W)`` on ``area.device``, 1 inside.
    """
    num, device = area.numel(), area.device
    ratio = area.float().clamp(0, 1).sqrt()
    half_h = torch.floor(height * ratio).long() // 2
    half_w = torch.floor(width * ratio).long() // 2
    # centres drawn on the CPU: no device synchronisation
    centre_y = torch.randint(0, height, (num, )).to(device)
    centre_x = torch.randint(0, width, (num, )).to(device)
    rows = torch.arange(height, device=device).view(1, height, 1)
    cols = torch.arange(width, device=device).view(1, 1, width)
    inside_y = ((rows >= (centre_y - half_h).clamp(0, height).view(-1, 1, 1))
                & (rows < (centre_y + half_h).clamp(0, height).view(-1, 1, 1)))
    inside_x = ((cols >= (centre_x - half_w).clamp(0, width).view(-1, 1, 1))
                & (cols < (centre_x + half_w).clamp(0, width).view(-1, 1, 1)))
    return (inside_y & inside_x).float()
