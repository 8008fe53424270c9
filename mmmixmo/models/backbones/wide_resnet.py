"""Wide ResNet (pre-activation) as in the MixMo authors' code."""
from typing import List, Optional, Sequence, Tuple, Union

from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS
from torch import Tensor, nn

# Registers 'TruncKaiming', used by the default ``init_cfg``.
from ..utils.trunc_kaiming_init import TruncKaimingInit  # noqa: F401

# The authors' initialisation: truncated He-normal (fan-in) for the convs,
# BN gamma 1 / beta 0. The scoped name resolves from any default scope.
AUTHORS_INIT_CFG = [
    dict(type='mmpretrain.TruncKaiming', layer='Conv2d'),
    dict(type='Constant', val=1, bias=0, layer=['_BatchNorm']),
]


def check_out_indices(out_indices: Union[int, Sequence[int]],
                      num_stages: int) -> Tuple[int, ...]:
    """Validate stage indices and map negative ones to positive ones.

    Args:
        out_indices (int | Sequence[int]): Stage indices, negative ones
            count from the last stage.
        num_stages (int): Number of stages of the backbone.

    Returns:
        tuple[int]: The indices in ``[0, num_stages)``.
    """
    if isinstance(out_indices, int):
        out_indices = (out_indices, )
    if not isinstance(out_indices, Sequence) or len(out_indices) == 0:
        raise TypeError('model.backbone.out_indices must be an int or a '
                        f'non-empty sequence of int, got {out_indices!r}')
    indices = []
    for index in out_indices:
        if not isinstance(index,
                          int) or not (-num_stages <= index < num_stages):
            raise ValueError(
                'model.backbone.out_indices must hold stage indices in '
                f'[{-num_stages}, {num_stages - 1}], got {tuple(out_indices)}')
        indices.append(index % num_stages)
    return tuple(indices)


class WideBasicBlock(BaseModule):
    """Pre-activation wide basic block of the MixMo authors' WRN.

    ``out = conv2(relu(bn2(conv1(relu(bn1(x)))))) + shortcut(x)``: both convs
    are 3x3 and bias-free, there is no dropout. When the block changes the
    resolution, the stride is on the *second* conv, which pads the right and
    bottom border by one pixel and then convolves without padding (the
    TensorFlow "SAME" rule for even inputs, kept from the authors' code). The
    shortcut is a bias-free 1x1 conv with the block's stride applied to the
    *raw* input ``x`` (not to ``relu(bn1(x))``) when the shape changes, the
    identity otherwise.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the block (of its second conv). Defaults to 1.
        norm_cfg (dict): Config of the norm layers.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.bn1 = build_norm_layer(norm_cfg, in_channels)[1]
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        if stride == 1:
            self.pad = nn.Identity()
            self.conv2 = nn.Conv2d(
                out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        else:
            # (left, right, top, bottom)
            self.pad = nn.ZeroPad2d((0, 1, 0, 1))
            self.conv2 = nn.Conv2d(
                out_channels,
                out_channels,
                3,
                stride=stride,
                padding=0,
                bias=False)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x (Tensor): Input of shape ``(B, C_in, H, W)``.

        Returns:
            Tensor: Output of shape ``(B, C_out, H', W')`` with
            ``H' = ceil(H / stride)`` for even ``H`` (same for ``W``).
        """
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.pad(self.relu(self.bn2(out))))
        return out + self.shortcut(x)


@MODELS.register_module()
class WideResNet(BaseBackbone):
    """Wide ResNet WRN-depth-k of the MixMo authors (pre-activation).

    Layout (as in the authors' ``mixmo-pytorch`` code): ``conv1`` (3x3,
    stride 1, bias-free, ``in_channels -> stem_channels``), then 3 stages of
    ``(depth - 4) / 6`` :class:`WideBasicBlock` with widths ``16k, 32k, 64k``
    and strides ``1, 2, 2`` (on each stage's first block), then a final
    BN-ReLU on the last stage's output. No dropout, all convs bias-free.
    WRN-28-10 has 4 blocks per stage and widths 160/320/640; with a
    ``Linear(640, 100)`` head it has 36,536,884 parameters.

    ``forward`` applies ``conv1`` first and uses it nowhere else, so
    the MixMo classifier can replace it by per-member encoders.

    Args:
        depth (int): Depth, with ``(depth - 4) % 6 == 0``. Defaults to 28.
        widen_factor (int): Width multiplier ``k``. Defaults to 10.
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (int): Output channels of ``conv1``. Defaults to 16.
        out_indices (int | Sequence[int]): Stages whose output is returned
            (0, 1, 2; negative values count from the end). Defaults to
            ``(2, )``.
        norm_cfg (dict): Config of the norm layers.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to the authors' init: truncated He-normal (fan-in) for
            every ``Conv2d`` and gamma 1 / beta 0 for the BN layers.

    Example:
        >>> import torch
        >>> from mmmixmo.models.backbones import WideResNet
        >>> model = WideResNet(depth=10, widen_factor=1).eval()
        >>> [tuple(o.shape) for o in model(torch.rand(2, 3, 32, 32))]
        [(2, 64, 8, 8)]
    """

    num_stages = 3
    stage_strides = (1, 2, 2)

    def __init__(
        self,
        depth: int = 28,
        widen_factor: int = 10,
        in_channels: int = 3,
        stem_channels: int = 16,
        out_indices: Union[int, Sequence[int]] = (2, ),
        norm_cfg: dict = dict(type='BN'),
        init_cfg: Optional[Union[dict,
                                 List[dict]]] = AUTHORS_INIT_CFG) -> None:
        super().__init__(init_cfg)
        if not isinstance(depth, int) or depth < 10 or (depth - 4) % 6 != 0:
            raise ValueError('model.backbone.depth must be an int >= 10 with '
                             f'(depth - 4) % 6 == 0 (e.g. 28), got {depth!r}')
        if not isinstance(widen_factor, int) or widen_factor < 1:
            raise ValueError('model.backbone.widen_factor must be a positive '
                             f'int, got {widen_factor!r}')
        self.depth = depth
        self.widen_factor = widen_factor
        self.num_blocks = (depth - 4) // 6
        self.out_indices = check_out_indices(out_indices, self.num_stages)
        self.stage_channels = tuple(16 * 2**i * widen_factor
                                    for i in range(self.num_stages))

        self.conv1 = nn.Conv2d(
            in_channels, stem_channels, 3, stride=1, padding=1, bias=False)
        self.res_layers = []
        channels = stem_channels
        for i, (width, stride) in enumerate(
                zip(self.stage_channels, self.stage_strides)):
            blocks = []
            for j in range(self.num_blocks):
                blocks.append(
                    WideBasicBlock(
                        channels,
                        width,
                        stride=stride if j == 0 else 1,
                        norm_cfg=norm_cfg))
                channels = width
            layer_name = f'layer{i + 1}'
            self.add_module(layer_name, nn.Sequential(*blocks))
            self.res_layers.append(layer_name)
        self.final_norm = build_norm_layer(norm_cfg, channels)[1]
        self.final_relu = nn.ReLU(inplace=True)
        self.out_channels = channels

    def train(self, mode: bool = True) -> 'WideResNet':
        """Set the training mode and return ``self``.

        ``BaseBackbone.train`` returns None, which would make
        ``backbone.eval()`` return None; this keeps PyTorch's chaining.

        Args:
            mode (bool): Training mode (True) or evaluation mode (False).
                Defaults to True.

        Returns:
            WideResNet: ``self``.
        """
        super().train(mode)
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Compute the features of the requested stages.

        Args:
            x (Tensor): Images of shape ``(B, in_channels, H, W)`` (or, when
                ``conv1`` was replaced by Identity, encoder features of shape
                ``(B, stem_channels, H, W)``).

        Returns:
            tuple[Tensor]: One map per index in ``out_indices``; stage ``i``
            has shape ``(B, 16 * 2**i * k, H / 2**i, W / 2**i)``. The last
            stage's map is taken after the final BN-ReLU.
        """
        x = self.conv1(x)
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i == self.num_stages - 1:
                x = self.final_relu(self.final_norm(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
