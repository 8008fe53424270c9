"""Wide ResNet (pre-activation) of the MixMo authors."""
from typing import List, Sequence, Union

from mmcv.cnn import build_norm_layer
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from .preact_backbone import (AUTHORS_INIT_CFG, PreActBackbone,
                              check_positive_ints)


class WideBasicBlock(nn.Module):
    """Pre-activation wide basic block, bias-free convs, no dropout.

    Note: as in the authors' code, a strided block strides its *second* conv,
    after padding one pixel right and bottom only (TensorFlow's "SAME" for
    even sizes), and its 1x1 shortcut takes the raw input ``x``, not
    ``relu(bn1(x))``.

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
            in_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        # ZeroPad2d takes (left, right, top, bottom)
        self.pad = nn.Identity() if stride == 1 else nn.ZeroPad2d((0, 1, 0, 1))
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, stride,
                               padding=1 if stride == 1 else 0, bias=False)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, C_in, H, W)`` -> ``(B, C_out, H / stride, W / stride)``."""
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.pad(self.relu(self.bn2(out))))
        return out + self.shortcut(x)


@MODELS.register_module()
class WideResNet(PreActBackbone):
    """WRN-depth-k of the MixMo authors (pre-activation, no dropout).

    ``conv1`` (3x3, ``in_channels -> stem_channels``), 3 stages of
    ``(depth - 4) / 6`` :class:`WideBasicBlock` of widths ``16k, 32k, 64k``
    and strides ``1, 2, 2``, then BN-ReLU on the last stage's output.

    Args:
        depth (int): Depth, with ``(depth - 4) % 6 == 0``. Defaults to 28.
        widen_factor (int): Width multiplier ``k``. Defaults to 10.
        in_channels (int): Input channels. Defaults to 3.
        stem_channels (int): Output channels of ``conv1``. Defaults to 16.
        out_indices (int | Sequence[int]): Stages (0..2) whose output is
            returned. Defaults to ``(2, )``.
        norm_cfg (dict): Norm layers. Defaults to ``dict(type='BN')``.
        init_cfg (list[dict]): Layer-wise init rules. Defaults to the
            authors': truncated He-normal convs, BN gamma 1 and beta 0.
    """

    def __init__(self,
                 depth: int = 28,
                 widen_factor: int = 10,
                 in_channels: int = 3,
                 stem_channels: int = 16,
                 out_indices: Union[int, Sequence[int]] = (2, ),
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: List[dict] = AUTHORS_INIT_CFG) -> None:
        if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6:
            raise ValueError('model.backbone.depth must be an int >= 10 with '
                             f'(depth - 4) % 6 == 0 (e.g. 28), got {depth!r}')
        check_positive_ints(widen_factor=widen_factor)
        super().__init__(
            conv1=nn.Conv2d(
                in_channels, stem_channels, 3, padding=1, bias=False),
            block=WideBasicBlock,
            stage_blocks=[(depth - 4) // 6] * 3,
            stage_channels=[16 * widen_factor * 2**i for i in range(3)],
            stage_strides=(1, 2, 2),
            out_indices=out_indices,
            final_norm=True,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg)
