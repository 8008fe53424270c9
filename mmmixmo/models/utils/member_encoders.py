"""The M member encoders of a MixMo network."""
import copy
from typing import List, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn


def fold_members(params: Sequence[Optional[Tensor]]) -> Optional[Tensor]:
    """The weight (or bias) of the one convolution that sums the members'.

    Convolution is linear in its kernel: ``sum_i conv_i(x)`` is the
    convolution of ``x`` with ``sum_i W_i`` and ``sum_i b_i``.
    """
    return None if params[0] is None else torch.stack(list(params)).sum(0)


class MemberEncoders(BaseModule):
    """M copies of the backbone's first convolution, one per member.

    Args:
        conv (nn.Conv2d): The backbone's first convolution; it becomes member
            0, members 1..M-1 are copies with re-drawn weights.
        num_members (int): Number of members M.
        init_cfg (dict | list[dict], optional): Initialization of the
            convolutions (the classifier passes the backbone's layer rules).
    """

    def __init__(self,
                 conv: nn.Conv2d,
                 num_members: int,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        convs = [conv]
        for _ in range(num_members - 1):
            convs.append(copy.deepcopy(conv))
            convs[-1].reset_parameters()
        self.convs = nn.ModuleList(convs)

    def forward(self, inputs: Tensor) -> Union[List[Tensor], Tensor]:
        """Encode the member inputs.

        Args:
            inputs (Tensor): Member images ``(B, M, C, H, W)``, or images
                ``(B, C, H, W)`` that every member sees (test time).

        Returns:
            list[Tensor] | Tensor: The M encodings ``(B, C0, H', W')``, or
            for shared images their sum, computed as one convolution (see
            :func:`fold_members`), so that inference costs one network.
        """
        if inputs.dim() == 5:
            return [conv(inputs[:, i]) for i, conv in enumerate(self.convs)]
        return self.convs[0]._conv_forward(
            inputs, fold_members([conv.weight for conv in self.convs]),
            fold_members([conv.bias for conv in self.convs]))
