"""Cut-MixMo's per-batch choice between binary and linear mixing."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .base_mixing import BaseMixing
from .linear_mixing import LinearMixing


@MODELS.register_module()
class CutOrLinearMixing(BaseMixing):
    """Once per batch, the binary block with probability p, else linear mixing.

    ``p = prob * prob_factor``; ``MixingProbHook`` sets ``prob_factor`` every
    epoch to decay p to 0 at the end of training, as the authors do.

    Args:
        num_members (int): Number of members M. Defaults to 2.
        alpha (float): Dirichlet concentration of both blocks. Defaults to
            2.0.
        prob (float): Probability p of the binary block, in ``[0, 1]``.
            Defaults to 0.5.
        binary (dict): Config of the binary block, e.g.
            ``dict(type='FMixMixing')`` for the paper's ablation; its
            ``num_members`` and ``alpha`` default to this block's.
            Defaults to ``dict(type='CutMixing')``.
        init_cfg (dict, optional): Initialization config. Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: float = 2.0,
                 prob: float = 0.5,
                 binary: dict = dict(type='CutMixing'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_members, alpha, init_cfg)
        if not 0 <= prob <= 1:
            raise ValueError(
                f'model.mixing.prob must be in [0, 1], got {prob}')
        self.prob = prob
        self.prob_factor = 1.0
        binary = {'alpha': alpha, 'num_members': num_members, **binary}
        if binary['num_members'] != num_members:
            raise ValueError('model.mixing.binary.num_members must equal '
                             f'model.mixing.num_members={num_members}')
        try:
            self.binary = MODELS.build(binary)
        except ValueError as error:  # name the nested keys
            raise ValueError(
                str(error).replace('model.mixing.', 'model.mixing.binary.',
                                   1)) from error
        self.linear = LinearMixing(num_members, alpha)

    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        # drawn on the CPU: no device synchronisation
        use_binary = float(torch.rand(())) < self.prob * self.prob_factor
        block = self.binary if use_binary else self.linear
        return block.sample_masks(batch_size, height, width, device)
