"""Soft targets of the MixMo members after pixel and feature mixing."""
import torch
import torch.nn.functional as F
from torch import Tensor


def _to_grid(masks: Tensor, size: tuple) -> Tensor:
    """Bring ``(B, M, h, w)`` masks to a ``(B, M, H, W)`` grid (nearest)."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    if masks.shape[-2:] == (1, 1):
        return masks.expand(*masks.shape[:2], *size)
    return F.interpolate(masks, size=size, mode='nearest')


def member_soft_targets(gt_labels: Tensor, mix_labels: Tensor,
                        pixel_masks: Tensor, feature_masks: Tensor,
                        num_classes: int) -> Tensor:
    """Soft target of every member: ``r * onehot(own) + (1 - r) *
    onehot(partner)``.

    As in the authors' code, ``r`` is the share of the member's *visible*
    region (its feature mask F) that shows its own pixels P,
    ``sum(P * F) / sum(F)`` on the finer of the two grids, floored at 0.5 so
    that the own image keeps at least half of the label. A fully hidden
    member (zero loss weight) gets its plain pixel share.

    Args:
        gt_labels (Tensor): Label of each member's own image ``(B, M)``.
        mix_labels (Tensor): Label of its pixel-mix partner ``(B, M)`` (the
            own label where nothing was pasted).
        pixel_masks (Tensor): Own-pixel share ``(B, M, h, w)``.
        feature_masks (Tensor): Mixing-block masks ``(B, M, h', w')``.
        num_classes (int): Number of classes K.

    Returns:
        Tensor: Float32 targets ``(B, M, K)``.
    """
    size = (max(pixel_masks.size(-2), feature_masks.size(-2)),
            max(pixel_masks.size(-1), feature_masks.size(-1)))
    pixel = _to_grid(pixel_masks.float(), size)
    feature = _to_grid(feature_masks.float(), size)
    visible = feature.sum((2, 3))
    ratio = torch.where(visible > 0, (pixel * feature).sum(
        (2, 3)) / visible.clamp_min(1e-12), pixel.mean((2, 3)))
    ratio = ratio.clamp(min=0.5).unsqueeze(-1)
    own = F.one_hot(gt_labels.long(), num_classes).float()
    partner = F.one_hot(mix_labels.long(), num_classes).float()
    return ratio * own + (1 - ratio) * partner
