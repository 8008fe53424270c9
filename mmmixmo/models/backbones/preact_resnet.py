"""Pre-activation ResNet-18/34 of width w, as in the MixMo authors' code."""
from typing import List, Sequence, Union

from mmcv.cnn import build_norm_layer
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from .preact_backbone import (AUTHORS_INIT_CFG, PreActBackbone,
                              check_positive_ints)


class PreActBasicBlock(nn.Module):
    """Pre-activation basic block, bias-free 3x3 convs, stride on the first.

    Note: the 1x1 shortcut of a block that changes the shape takes the
    pre-activated input ``relu(bn1(x))``; the identity shortcut takes ``x``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the block. Defaults to 1.
        norm_cfg (dict): Norm layers. Defaults to ``dict(type='BN')``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        self.bn1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = None
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W)`` -> ``(B, C_out, H / stride, W / stride)``."""
        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv2(self.relu(self.bn2(self.conv1(out))))
        return out + identity


@MODELS.register_module()
class PreActResNet(PreActBackbone):
    """Pre-activation ResNet-18/34 of width ``w`` (MixMo's Tiny ImageNet net).

    ``conv1`` (3x3, ``in_channels -> stem_channels``, not widened), 4 stages
    of :class:`PreActBasicBlock` of widths ``base_channels * (1, 2, 4, 8) *
    w`` and strides ``1, 2, 2, 2``; no norm after the last stage.

    Args:
        depth (int): 18 or 34. Defaults to 18.
        width (int): Width multiplier ``w``. Defaults to 1.
        in_channels (int): Input channels. Defaults to 3.
        stem_channels (int): Output channels of ``conv1``. Defaults to 64.
        stem_stride (int): Stride of ``conv1``; 2 for Tiny ImageNet.
            Defaults to 1.
        base_channels (int): Width of the first stage for ``w = 1``; the
            paper's 64, smaller for tiny test models. Defaults to 64.
        out_indices (int | Sequence[int]): Stages (0..3) whose output is
            returned. Defaults to ``(3, )``.
        norm_cfg (dict): Norm layers. Defaults to ``dict(type='BN')``.
        init_cfg (list[dict]): Layer-wise init rules. Defaults to the
            authors': truncated He-normal convs, BN gamma 1 and beta 0.
    """

    arch_settings = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}

    def __init__(self,
                 depth: int = 18,
                 width: int = 1,
                 in_channels: int = 3,
                 stem_channels: int = 64,
                 stem_stride: int = 1,
                 base_channels: int = 64,
                 out_indices: Union[int, Sequence[int]] = (3, ),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: List[dict] = AUTHORS_INIT_CFG) -> None:
        if depth not in self.arch_settings:
            raise ValueError('model.backbone.depth must be one of '
                             f'{sorted(self.arch_settings)}, got {depth!r}')
        check_positive_ints(
            width=width, stem_stride=stem_stride, base_channels=base_channels)
        super().__init__(
            conv1=nn.Conv2d(in_channels, stem_channels, 3, stride=stem_stride,
                            padding=1, bias=False),
            block=PreActBasicBlock,
            stage_blocks=self.arch_settings[depth],
            stage_channels=[base_channels * width * 2**i for i in range(4)],
            stage_strides=(1, 2, 2, 2),
            out_indices=out_indices,
            final_norm=False,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg)
