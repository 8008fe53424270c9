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


def visible_own_ratio(pixel_masks: Tensor, feature_masks: Tensor) -> Tensor:
    """Share of each member's visible region that shows its own image.

    A member input may carry a pasted partner (pixel CutMix) or a blend
    (pixel Mixup); the feature mixing then hides part of the member. As in the
    authors' code, the label ratio counts only what stays visible: with
    ``P`` the member's own-pixel share and ``F`` its feature mask, both brought
    to the finer of the two grids (nearest),
    ``ratio = sum(P * F) / sum(F)``. With linear feature mixing ``F`` is
    constant and the ratio is the plain pixel share.

    Args:
        pixel_masks (Tensor): Own-pixel share per member, ``(B, M, h, w)``
            with ``(h, w)`` the input size or ``(1, 1)``.
        feature_masks (Tensor): Feature masks of the mixing block,
            ``(B, M, h', w')`` with ``(h', w')`` the feature grid or
            ``(1, 1)``.

    Returns:
        Tensor: The ratios, shape ``(B, M)``, in ``[0, 1]``. A member that is
        fully hidden (``sum(F) == 0``, so its loss weight is 0) gets its plain
        pixel share.
    """
    size = (max(pixel_masks.size(-2), feature_masks.size(-2)),
            max(pixel_masks.size(-1), feature_masks.size(-1)))
    pixel = _to_grid(pixel_masks.float(), size)
    feature = _to_grid(feature_masks.float(), size)
    visible = feature.sum((2, 3))
    own = (pixel * feature).sum((2, 3))
    plain = pixel.mean((2, 3))
    return torch.where(visible > 0, own / visible.clamp_min(1e-12), plain)


def member_soft_targets(gt_labels: Tensor,
                        mix_labels: Tensor,
                        pixel_masks: Tensor,
                        feature_masks: Tensor,
                        num_classes: int,
                        min_own_ratio: float = 0.5) -> Tensor:
    """Soft target of every member.

    ``target = ratio * onehot(own) + (1 - ratio) * onehot(partner)`` with
    ``ratio`` from :func:`visible_own_ratio`, floored at ``min_own_ratio``:
    the member's own image keeps at least half of the label, as in the
    authors' code. Without pixel mixing (``P == 1``) the target is the plain
    one-hot label.

    Args:
        gt_labels (Tensor): Label of each member's own image, ``(B, M)``.
        mix_labels (Tensor): Label of each member's pixel-mix partner,
            ``(B, M)`` (equal to ``gt_labels`` where none was pasted).
        pixel_masks (Tensor): Own-pixel share, ``(B, M, h, w)``.
        feature_masks (Tensor): Feature masks, ``(B, M, h', w')``.
        num_classes (int): Number of classes K.
        min_own_ratio (float): Floor of the own label share. Defaults to 0.5.

    Returns:
        Tensor: Float targets of shape ``(B, M, K)``; each row sums to 1.
    """
    ratio = visible_own_ratio(pixel_masks, feature_masks)
    ratio = ratio.clamp(min=min_own_ratio).unsqueeze(-1)
    own = F.one_hot(gt_labels.long(), num_classes).float()
    partner = F.one_hot(mix_labels.long(), num_classes).float()
    return ratio * own + (1 - ratio) * partner
