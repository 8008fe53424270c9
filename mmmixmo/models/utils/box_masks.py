"""CutMix rectangles, shared by the feature-level and pixel-level mixing."""
from typing import Optional

import torch
from torch import Tensor


def cutmix_box_masks(area: Tensor,
                     height: int,
                     width: int,
                     generator: Optional[torch.Generator] = None) -> Tensor:
    """Draw one CutMix rectangle per sample and return it as a binary mask.

    The rule is the one of the original CutMix code, which the MixMo authors
    reuse on the feature grid: the rectangle has sides
    ``floor(H * sqrt(area))`` x ``floor(W * sqrt(area))``, its centre is
    uniform over all ``H x W`` positions, and it spans
    ``[c - side // 2, c + side // 2)`` clipped at the borders. Because of the
    clipping (and the even span) the real area is smaller than ``area``: with
    ``area ~ Beta(2, 2)`` on a 32x32 grid its mean is about 0.31. Callers that
    need the real area must take the mask mean.

    Args:
        area (Tensor): Requested area ratio per sample, in ``[0, 1]``, of
            shape ``(N, )``.
        height (int): Grid height ``H``.
        width (int): Grid width ``W``.
        generator (torch.Generator, optional): Random generator for the
            centres. Defaults to None (the global generator).

    Returns:
        Tensor: Float masks of shape ``(N, H, W)`` on ``area.device``, 1 inside
        the rectangle and 0 outside.
    """
    if area.dim() != 1:
        raise ValueError(
            f'`area` must have shape (N, ), got {tuple(area.shape)}')
    num = area.numel()
    device = area.device
    ratio = area.float().clamp(0, 1).sqrt()
    half_h = torch.floor(height * ratio).long() // 2
    half_w = torch.floor(width * ratio).long() // 2
    centre_y = torch.randint(
        0, height, (num, ), generator=generator).to(device)
    centre_x = torch.randint(0, width, (num, ), generator=generator).to(device)
    y1 = (centre_y - half_h).clamp(0, height)
    y2 = (centre_y + half_h).clamp(0, height)
    x1 = (centre_x - half_w).clamp(0, width)
    x2 = (centre_x + half_w).clamp(0, width)
    rows = torch.arange(height, device=device).view(1, height, 1)
    cols = torch.arange(width, device=device).view(1, 1, width)
    inside_y = (rows >= y1.view(-1, 1, 1)) & (rows < y2.view(-1, 1, 1))
    inside_x = (cols >= x1.view(-1, 1, 1)) & (cols < x2.view(-1, 1, 1))
    return (inside_y & inside_x).float()
