"""The M per-member encoders of a MixMo network."""
import copy
from typing import List, Optional, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn


class MemberEncoders(BaseModule):
    """M independent copies of a backbone's first convolution.

    In MixMo the only per-member layers at the input are the first
    convolutions: member ``i`` encodes its own image with ``convs[i]``, the
    mixing block merges the M feature maps and the shared core follows. At
    test time every member receives the same image and the mixing block sums
    the encodings, and since convolution is linear in its kernel
    ``sum_i conv_i(x) == conv(x; sum_i W_i, sum_i b_i)``: :meth:`fold` and
    :meth:`forward_folded` use that single convolution, so inference costs
    one network.

    Args:
        conv (nn.Conv2d): The backbone's first convolution. It becomes member
            0; members 1..M-1 are copies of it with re-drawn weights.
        num_members (int): Number of members M (>= 1).
        init_cfg (dict | list[dict], optional): Initialisation of the M
            convolutions; the classifier passes the backbone's own
            ``init_cfg`` so that every member is initialised like the
            original first convolution. Defaults to None.
    """

    def __init__(self,
                 conv: nn.Conv2d,
                 num_members: int,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(conv, nn.Conv2d):
            raise TypeError('MemberEncoders needs an nn.Conv2d, got '
                            f'{type(conv).__name__}')
        if num_members < 1:
            raise ValueError(f'num_members must be >= 1, got {num_members}')
        convs = [conv]
        for _ in range(num_members - 1):
            member = copy.deepcopy(conv)
            member.reset_parameters()
            convs.append(member)
        self.convs = nn.ModuleList(convs)

    @property
    def num_members(self) -> int:
        """int: The number of members M."""
        return len(self.convs)

    def forward(self, inputs: Tensor) -> List[Tensor]:
        """Encode each member's own image.

        Args:
            inputs (Tensor): Member images of shape ``(B, M, C, H, W)``.

        Returns:
            list[Tensor]: M encodings, each of shape ``(B, C0, H', W')``.
        """
        if inputs.dim() != 5 or inputs.size(1) != self.num_members:
            raise ValueError(
                f'expected member inputs of shape (B, {self.num_members}, C, '
                f'H, W), got {tuple(inputs.shape)}')
        return [conv(inputs[:, i]) for i, conv in enumerate(self.convs)]

    def folded_weights(self) -> tuple:
        """Sum the members' kernels and biases.

        Returns:
            tuple[Tensor, Tensor | None]: The summed weight of shape
            ``(C0, C, k, k)`` and the summed bias ``(C0, )`` (None when the
            convolutions have no bias).
        """
        weight = torch.stack([conv.weight for conv in self.convs]).sum(0)
        bias = None
        if self.convs[0].bias is not None:
            bias = torch.stack([conv.bias for conv in self.convs]).sum(0)
        return weight, bias

    def forward_folded(self, inputs: Tensor) -> Tensor:
        """Encode one image shared by all members with the folded kernel.

        Equals ``sum_i convs[i](inputs)`` (the test-time mixing) at the cost
        of a single convolution.

        Args:
            inputs (Tensor): Images of shape ``(B, C, H, W)``.

        Returns:
            Tensor: Summed encodings of shape ``(B, C0, H', W')``.
        """
        weight, bias = self.folded_weights()
        return self.convs[0]._conv_forward(inputs, weight, bias)

    def fold(self) -> nn.Conv2d:
        """Build a standalone convolution equal to the sum of the members.

        Returns:
            nn.Conv2d: A new convolution (same geometry as the members) whose
            kernel and bias are the members' sums, detached from this module.
        """
        folded = copy.deepcopy(self.convs[0])
        weight, bias = self.folded_weights()
        with torch.no_grad():
            folded.weight.copy_(weight)
            if bias is not None:
                folded.bias.copy_(bias)
        return folded
