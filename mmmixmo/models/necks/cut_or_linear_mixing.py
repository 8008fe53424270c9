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
        # p = prob * prob_factor, float64 as the Python float it replaces;
        # set in place, so a torch.compile graph reads it without recompiling
        self.register_buffer(
            'binary_prob', torch.tensor(prob, dtype=torch.float64),
            persistent=False)
        self._prob, self._prob_factor = float(prob), 1.0
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

    @property
    def prob(self) -> float:
        return self._prob

    @prob.setter
    def prob(self, value: float) -> None:
        self._prob = float(value)
        self.binary_prob.fill_(self._prob * self._prob_factor)

    @property
    def prob_factor(self) -> float:
        return self._prob_factor

    @prob_factor.setter
    def prob_factor(self, value: float) -> None:
        self._prob_factor = float(value)
        self.binary_prob.fill_(self._prob * self._prob_factor)

    def sample_masks(self, batch_size: int, height: int, width: int,
                     device: torch.device) -> Tensor:
        """Draw both blocks' masks and keep one, chosen by a tensor draw.

        Note: both blocks draw every batch, so that the choice is a
        ``torch.where`` (one torch.compile graph, no Python branch on a
        draw); the linear masks come broadcast to ``(B, M, h, w)``.
        """
        use_binary = torch.rand(()) < self.binary_prob  # float64 compare
        binary = self.binary.sample_masks(batch_size, height, width, device)
        linear = self.linear.sample_masks(batch_size, height, width, device)
        return torch.where(use_binary.to(device), binary, linear)
