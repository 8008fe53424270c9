"""The part shared by every MixMo mixing block."""
from abc import abstractmethod
from typing import NamedTuple, Optional, Sequence

import torch
from mmengine.model import BaseModule
from torch import Tensor


class MixingOutput(NamedTuple):
    """What a mixing block returns.

    Attributes:
        features (Tensor): Mixed features of shape ``(B, C, H, W)``, in the
            dtype of the input features.
        masks (Tensor): Float32 per-member weight maps of shape
            ``(B, M, h, w)`` that sum to 1 over ``M`` at every position.
            ``(h, w) == (1, 1)`` for linear mixing (and in evaluation),
            ``(H, W)`` for binary masks.
        kappa (Tensor): Float32 effective share of each member, of shape
            ``(B, M)``; always ``masks.mean((2, 3))``.
    """
    features: Tensor
    masks: Tensor
    kappa: Tensor


def check_num_members(num_members: int) -> int:
    """Validate ``model.mixing.num_members``.

    Args:
        num_members (int): Number of members ``M``.

    Returns:
        int: ``num_members`` unchanged.
    """
    if (isinstance(num_members, bool) or not isinstance(num_members, int)
            or num_members < 2):
        raise ValueError('model.mixing.num_members must be an integer >= 2, '
                         f'got {num_members!r}')
    return num_members


def check_alpha(alpha: float) -> float:
    """Validate ``model.mixing.alpha`` (a Dirichlet concentration).

    Args:
        alpha (float): Concentration of the symmetric Dirichlet distribution.

    Returns:
        float: ``alpha`` as a Python float.
    """
    if (isinstance(alpha, bool) or not isinstance(alpha, (int, float))
            or not alpha > 0 or alpha == float('inf')):
        raise ValueError('model.mixing.alpha must be a finite number > 0, '
                         f'got {alpha!r}')
    return float(alpha)


def sample_dirichlet(alpha: float, batch_size: int, num_members: int,
                     device: torch.device) -> Tensor:
    """Draw one ``kappa ~ Dirichlet(alpha, ..., alpha)`` per sample.

    Args:
        alpha (float): Concentration, the same for every member.
        batch_size (int): Number of samples ``B``.
        num_members (int): Number of members ``M``.
        device (torch.device): Where to draw (and return) ``kappa``.

    Returns:
        Tensor: Float32 shares of shape ``(B, M)`` that sum to 1 per row.
    """
    concentration = torch.full((num_members, ),
                               alpha,
                               dtype=torch.float32,
                               device=device)
    dirichlet = torch.distributions.Dirichlet(concentration)
    return dirichlet.sample((batch_size, ))


class BaseMixing(BaseModule):
    """Base class of the MixMo mixing blocks.

    A mixing block merges the outputs ``l_0 .. l_{M-1}`` of the ``M`` member
    encoders into one feature map for the shared core. In training it draws
    per-member weight maps ``mask_i`` (summing to 1 at every position, see
    :meth:`sample_masks`) and returns ``M * sum_i mask_i * l_i``. In
    evaluation every encoder sees the same image and the block returns the
    plain sum ``sum_i l_i``; the factor ``M`` in training keeps both scales
    consistent for the batch normalisation that follows.

    The masks and ``kappa`` are always float32; they are cast to the
    features' dtype only for the product, so the block is safe under
    ``torch.autocast`` (bf16/fp16 features).

    Args:
        num_members (int): Number of members ``M`` (>= 2).
            Defaults to 2.
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_members = check_num_members(num_members)

    @abstractmethod
    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        """Draw the training weight maps of a batch.

        Args:
            batch_size (int): Number of samples ``B``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.
            device (torch.device): Device of the features.

        Returns:
            Tensor: Float32 masks of shape ``(B, M, h, w)`` with
            ``(h, w)`` either ``(1, 1)`` or ``(H, W)``, summing to 1 over
            ``M`` at every position.
        """

    def forward(self, features: Sequence[Tensor]) -> MixingOutput:
        """Mix the member features.

        Args:
            features (Sequence[Tensor]): ``M`` encoder outputs, each of shape
                ``(B, C, H, W)``.

        Returns:
            MixingOutput: Mixed features ``(B, C, H, W)``, masks
            ``(B, M, h, w)`` and effective ``kappa`` ``(B, M)``.
        """
        features = list(features)
        num_members = self.num_members
        if len(features) != num_members:
            raise ValueError(
                f'The mixing block got {len(features)} feature maps but '
                f'model.mixing.num_members is {num_members}; it must equal '
                'the number of member encoders.')
        shape = features[0].shape
        if len(shape) != 4:
            raise ValueError('Mixing expects features of shape (B, C, H, W), '
                             f'got {tuple(shape)}')
        for i, feat in enumerate(features[1:], start=1):
            if feat.shape != shape:
                raise ValueError('All member features must have the same '
                                 f'shape: member 0 has {tuple(shape)}, '
                                 f'member {i} has {tuple(feat.shape)}')
        batch_size, _, height, width = shape
        device = features[0].device

        if not self.training:
            mixed = features[0]
            for feat in features[1:]:
                mixed = mixed + feat
            masks = torch.full((batch_size, num_members, 1, 1),
                               1.0 / num_members,
                               dtype=torch.float32,
                               device=device)
            kappa = torch.full((batch_size, num_members),
                               1.0 / num_members,
                               dtype=torch.float32,
                               device=device)
            return MixingOutput(mixed, masks, kappa)

        masks = self.sample_masks(batch_size, height, width, device)
        weights = masks.to(features[0].dtype)
        mixed = weights[:, 0:1] * features[0]
        for i in range(1, num_members):
            mixed = mixed + weights[:, i:i + 1] * features[i]
        mixed = mixed * num_members
        kappa = masks.mean(dim=(2, 3))
        return MixingOutput(mixed, masks, kappa)

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return f'num_members={self.num_members}'
