"""Cut-MixMo mixing block (CutMix rectangles on the feature grid)."""
from mmpretrain.registry import MODELS
from torch import Tensor

from ..utils.box_masks import cutmix_box_masks
from .binary_mask_mixing import BinaryMaskMixing


@MODELS.register_module()
class CutMixing(BinaryMaskMixing):
    """Cut-MixMo: one member owns a CutMix rectangle of the feature map.

    Per sample ``kappa ~ Dirichlet(alpha, ..., alpha)``. Once per batch an
    owner ``A ~ U{0, ..., M-1}`` is drawn (on the CPU, no device sync); its
    mask is a CutMix rectangle of requested area ``kappa_A`` (per-sample
    geometry, see :func:`~mmmixmo.models.utils.cutmix_box_masks`), and the
    other members share the complement with the linear weights
    ``kappa_j / sum_{j != A} kappa_j`` (for two members the other one simply
    gets the complement). This follows the authors' code, including for
    ``M > 2``. Because the rectangle is clipped at the borders its real area
    is smaller than requested, so the effective ``kappa`` returned by
    :meth:`forward` is the mask mean (about 0.31 on average for the owner
    with ``Beta(2, 2)`` on a 32x32 grid), which is what the loss weighting
    must use. The owner/complement logic is the one of
    :class:`~mmmixmo.models.necks.BinaryMaskMixing`.

    Args:
        num_members (int): Number of members ``M`` (>= 2). Defaults to 2.
        alpha (float): Dirichlet concentration (> 0). Defaults to 2.0, the
            authors' value.
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        """Draw one clipped CutMix rectangle per sample.

        Args:
            area (Tensor): Requested area ratios in ``[0, 1]``, shape
                ``(B, )``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.

        Returns:
            Tensor: Float32 binary masks of shape ``(B, H, W)``, 1 inside the
            rectangle.
        """
        return cutmix_box_masks(area, height, width)
