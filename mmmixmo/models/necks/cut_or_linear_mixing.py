"""Cut-MixMo with a linear fallback: the block of the published runs."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .base_mixing import BaseMixing, check_alpha
from .binary_mask_mixing import BinaryMaskMixing
from .cut_mixing import CutMixing
from .linear_mixing import LinearMixing


@MODELS.register_module()
class CutOrLinearMixing(BaseMixing):
    """Once per batch, Cut-MixMo with probability ``p``, else Linear-MixMo.

    The binary block is :class:`~mmmixmo.models.necks.CutMixing` by default;
    ``binary`` swaps it for any other
    :class:`~mmmixmo.models.necks.BinaryMaskMixing` (FMix, CowMix, PatchUp,
    concatenation), keeping the linear fallback and its schedule, as in the
    paper's mixing-block ablation. It is built with this block's
    ``num_members`` and ``alpha`` and stored as :attr:`cut`.

    ``p = prob * prob_factor``. ``prob_factor`` (1.0 by default) is written
    every epoch by :class:`~mmmixmo.engine.hooks.MixingProbHook`, which
    decays ``p`` linearly to 0 over the last epochs as in the authors' code.
    The draw ``u ~ U(0, 1)`` is made on the CPU with the global generator
    (no device synchronisation) and Cut-MixMo is used when ``u < p``, so
    ``p = 1`` always cuts and ``p = 0`` never does.

    Args:
        num_members (int): Number of members ``M`` (>= 2). Defaults to 2.
        alpha (float): Dirichlet concentration (> 0), shared by the cut and
            the linear block. Defaults to 2.0.
        prob (float): Base probability of Cut-MixMo, in ``[0, 1]``.
            Defaults to 0.5, the authors' value.
        binary (dict, optional): Config of the binary block used instead
            of ``CutMixing``, e.g. ``dict(type='FMixMixing')``; its
            ``num_members`` and ``alpha`` default to this block's and must
            match them if given. Defaults to None (``CutMixing``).
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: float = 2.0,
                 prob: float = 0.5,
                 binary: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_members=num_members, init_cfg=init_cfg)
        if (isinstance(prob, bool) or not isinstance(prob, (int, float))
                or not 0 <= prob <= 1):
            raise ValueError(
                f'model.mixing.prob must be in [0, 1], got {prob!r}')
        self.prob = float(prob)
        self.prob_factor = 1.0
        if binary is None:
            self.cut = CutMixing(num_members=num_members, alpha=alpha)
        else:
            self.cut = self._build_binary(binary, self.num_members,
                                          check_alpha(alpha))
        self.linear = LinearMixing(num_members=num_members, alpha=alpha)

    @staticmethod
    def _build_binary(cfg: dict, num_members: int,
                      alpha: float) -> BinaryMaskMixing:
        """Build the binary block from ``model.mixing.binary``.

        Args:
            cfg (dict): Config of a registered ``BinaryMaskMixing``.
            num_members (int): Number of members of this block.
            alpha (float): Dirichlet concentration of this block.

        Returns:
            BinaryMaskMixing: The built block.
        """
        if not isinstance(cfg, dict) or 'type' not in cfg:
            raise ValueError('model.mixing.binary must be a config dict with '
                             f'a "type", got {cfg!r}')
        cfg = dict(cfg)
        for key, value in (('num_members', num_members), ('alpha', alpha)):
            given = cfg.setdefault(key, value)
            if given != value:
                raise ValueError(
                    f'model.mixing.binary.{key} ({given!r}) must equal '
                    f'model.mixing.{key} ({value!r}); it can be left out.')
        try:
            block = MODELS.build(cfg)
        except ValueError as error:
            # name the nested key in the errors of the binary block
            message = str(error).replace('model.mixing.',
                                         'model.mixing.binary.')
            raise ValueError(message) from error
        if not isinstance(block, BinaryMaskMixing):
            raise ValueError(
                'model.mixing.binary must build a BinaryMaskMixing (such as '
                f'CutMixing or FMixMixing), got {type(block).__name__}')
        return block

    @property
    def effective_prob(self) -> float:
        """float: Current probability of Cut-MixMo, ``prob * prob_factor``."""
        return self.prob * self.prob_factor

    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        """Draw the masks of the binary block or of the linear block.

        Args:
            batch_size (int): Number of samples ``B``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.
            device (torch.device): Device of the features.

        Returns:
            Tensor: Float32 masks of shape ``(B, M, H, W)`` (binary) or
            ``(B, M, 1, 1)`` (linear).
        """
        if float(torch.rand(())) < self.effective_prob:
            return self.cut.sample_masks(batch_size, height, width, device)
        return self.linear.sample_masks(batch_size, height, width, device)

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return (f'num_members={self.num_members}, prob={self.prob}, '
                f'prob_factor={self.prob_factor}, '
                f'binary={type(self.cut).__name__}')
