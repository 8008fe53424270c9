"""Concat-MixMo mixing block (member features side by side)."""
from typing import Optional, Tuple

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .binary_mask_mixing import BinaryMaskMixing

ORIENTATIONS = ('width', 'height', 'both')


@MODELS.register_module()
class ConcatMixing(BinaryMaskMixing):
    """Concat-MixMo: the members' feature maps placed side by side.

    The mixing of :class:`~mmmixmo.models.necks.BinaryMaskMixing` (per-sample
    ``kappa ~ Dirichlet(alpha)``, one owner ``A`` per batch, the others share
    the complement in proportion to their ``kappa``) with a stripe mask: the
    owner keeps a contiguous stripe of ``round(kappa_A * W)`` full columns
    (or ``round(kappa_A * H)`` full rows) starting at one border, and the
    other member fills the rest, so the mixed map is the owner's features
    concatenated with the other's along one spatial axis (``torch.round``,
    halves to even). The owner's area is exact:
    ``round(kappa_A * W) / W`` (or ``round(kappa_A * H) / H``).

    This is our reading of the "concatenation" mask of the paper's
    mixing-block ablation (CIFAR-100, WRN-28-10, M = 2: 82.78 top-1); the
    method doc does not describe it further. (Concatenating the inputs along
    the channels before one convolution would be MIMO's sum of the encoder
    outputs, :class:`~mmmixmo.models.necks.LinearMixing` with
    ``alpha=None``.) The
    axis (with ``orientation='both'``) and the border the stripe starts
    from are drawn once per batch, uniformly, on the CPU.

    Args:
        num_members (int): Number of members ``M`` (>= 2). Defaults to 2.
        alpha (float): Dirichlet concentration (> 0). Defaults to 2.0, the
            MixMo authors' value.
        orientation (str): ``'width'`` (stripes of columns: the members sit
            left and right), ``'height'`` (stripes of rows: top and bottom)
            or ``'both'`` (one of the two per batch). Defaults to ``'both'``.
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: float = 2.0,
                 orientation: str = 'both',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            num_members=num_members, alpha=alpha, init_cfg=init_cfg)
        if orientation not in ORIENTATIONS:
            raise ValueError(f'model.mixing.orientation must be one of '
                             f'{ORIENTATIONS}, got {orientation!r}')
        self.orientation = orientation

    def sample_layout(self) -> Tuple[str, bool]:
        """Draw the axis and the starting border for the whole batch.

        Returns:
            tuple[str, bool]: The axis, ``'width'`` or ``'height'``, and
            whether the owner's stripe starts at the first column/row
            (``True``) or ends at the last one (``False``); both uniform,
            drawn on the CPU.
        """
        draws = torch.randint(2, (2, )).tolist()
        axis = self.orientation
        if axis == 'both':
            axis = ('width', 'height')[draws[0]]
        return axis, bool(draws[1])

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        """Build the owner's stripes.

        Args:
            area (Tensor): Requested area ratios in ``[0, 1]``, shape
                ``(B, )``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.

        Returns:
            Tensor: Float32 binary masks of shape ``(B, H, W)``: full columns
            (or rows) ``[0, k)`` or ``[L - k, L)`` with
            ``k = round(area * L)``, ``L`` the width (or height).
        """
        axis, from_start = self.sample_layout()
        batch_size = area.shape[0]
        length = width if axis == 'width' else height
        keep = torch.round(area.float().clamp(0, 1) * length).view(-1, 1)
        position = torch.arange(length, device=area.device).view(1, -1)
        if not from_start:
            position = length - 1 - position
        stripe = (position < keep).float()  # (B, L)
        if axis == 'width':
            stripe = stripe.view(batch_size, 1, width)
        else:
            stripe = stripe.view(batch_size, height, 1)
        return stripe.expand(batch_size, height, width).contiguous()

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return (f'num_members={self.num_members}, alpha={self.alpha}, '
                f'orientation={self.orientation!r}')
