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
        # the draws stay tensors and both axes are built: no Python branch
        # on a draw (one torch.compile graph)
        axis_draw, border_draw = torch.randint(2, (2, )).to(area.device)
        stripes = {}
        for axis, length, shape in (('width', width, (-1, 1, width)),
                                    ('height', height, (-1, height, 1))):
            keep = torch.round(area.float().clamp(0, 1) * length).view(-1, 1)
            position = torch.arange(length, device=area.device).view(1, -1)
            # border draw 0: the stripe ends at the last column / row
            position = torch.where(border_draw == 1, position,
                                   length - 1 - position)
            stripes[axis] = (position < keep).float().view(shape).expand(
                area.shape[0], height, width)
        if self.orientation != 'both':
            return stripes[self.orientation]
        return torch.where(axis_draw == 0, stripes['width'],
                           stripes['height'])
