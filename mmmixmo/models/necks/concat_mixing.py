"""Concat-MixMo mixing block."""
import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .binary_mask_mixing import BinaryMaskMixing


@MODELS.register_module()
class ConcatMixing(BinaryMaskMixing):
    """Concat-MixMo: the members' feature maps side by side.

    The owner keeps a stripe of ``round(kappa_A * W)`` full columns (or
    rows) from one border and the others fill the rest; the axis (for
    ``'both'``) and the border are drawn once per batch. Our reading of the
    paper's concatenation ablation (see ``configs/mixmo/README.md``).

    Args:
        orientation (str): ``'width'`` (columns), ``'height'`` (rows) or
            ``'both'``. Defaults to ``'both'``.
        **kwargs: ``num_members``, ``alpha`` and ``init_cfg`` of
            :class:`BaseMixing`.
    """

    def __init__(self, orientation: str = 'both', **kwargs) -> None:
        super().__init__(**kwargs)
        if orientation not in ('width', 'height', 'both'):
            raise ValueError("model.mixing.orientation must be 'width', "
                             f"'height' or 'both', got {orientation!r}")
        self.orientation = orientation

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        draws = torch.randint(2, (2, )).tolist()
        axis = self.orientation
        if axis == 'both':
            axis = ('width', 'height')[draws[0]]
        length = width if axis == 'width' else height
        keep = torch.round(area.float().clamp(0, 1) * length).view(-1, 1)
        position = torch.arange(length, device=area.device).view(1, -1)
        if not draws[1]:  # the stripe ends at the last column / row
            position = length - 1 - position
        stripe = (position < keep).float()
        shape = (-1, 1, width) if axis == 'width' else (-1, height, 1)
        return stripe.view(shape).expand(area.shape[0], height, width)
