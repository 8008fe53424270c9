"""The members' loss: soft targets after pixel and feature mixing, weights."""
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
    """Soft target of every member: ``r onehot(own) + (1 - r) onehot(mix)``.

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


def member_loss_weights(kappa: Tensor, r: float) -> Tensor:
    """MixMo's loss weights ``w_i = M kappa_i^(1/r) / sum_j kappa_j^(1/r)``.

    The member that owns more of the mixed feature weighs more; ``r = 1``
    gives ``M kappa_i``, ``r -> inf`` gives 1. Constants of the loss.

    Args:
        kappa (Tensor): Effective member shares ``(B, M)``.
        r (float): Re-weighting temperature (3 in the paper).

    Returns:
        Tensor: Float32 weights ``(B, M)``, each row summing to M.
    """
    with torch.no_grad():
        powered = kappa.float().clamp_min(0).pow(1.0 / r)
        total = powered.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return kappa.size(1) * powered / total
