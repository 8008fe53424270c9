"""Pre-activation ResNet-18/34 of width w, as in the MixMo authors' code."""
from typing import List, Optional, Sequence, Tuple, Union

from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from .wide_resnet import AUTHORS_INIT_CFG, check_out_indices


class PreActBasicBlock(BaseModule):
    """Pre-activation basic block (the "kuangliu" variant).

    ``a = relu(bn1(x))``, ``out = conv2(relu(bn2(conv1(a)))) + shortcut``:
    both convs are 3x3 with padding 1 and bias-free, the stride is on the
    first conv. When the shape changes the shortcut is a bias-free 1x1 conv
    with the block's stride applied to the *pre-activated* input ``a``;
    otherwise it is the raw input ``x``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of the block (of its first conv). Defaults to 1.
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
            in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn2 = build_norm_layer(norm_cfg, out_channels)[1]
        self.conv2 = nn.Conv2d(
            out_channels, out_channels, 3, stride=1, padding=1, bias=False)
        self.relu = nn.ReLU(inplace=True)
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Conv2d(
                in_channels, out_channels, 1, stride=stride, bias=False)
        else:
            self.shortcut = None

    def forward(self, x: Tensor) -> Tensor:
        """Apply the block.

        Args:
            x (Tensor): Input of shape ``(B, C_in, H, W)``.

        Returns:
            Tensor: Output of shape
            ``(B, C_out, ceil(H / stride), ceil(W / stride))``.
        """
        out = self.relu(self.bn1(x))
        identity = x if self.shortcut is None else self.shortcut(out)
        out = self.conv1(out)
        out = self.conv2(self.relu(self.bn2(out)))
        return out + identity


@MODELS.register_module()
class PreActResNet(BaseBackbone):
    """Pre-activation ResNet-18/34 of width ``w`` (MixMo's Tiny ImageNet net).

    Layout (as in the authors' ``mixmo-pytorch`` code): ``conv1`` (3x3,
    stride ``stem_stride``, padding 1, bias-free,
    ``in_channels -> stem_channels``; 64 channels whatever ``w``), then 4
    stages of :class:`PreActBasicBlock` with widths
    ``64w, 128w, 256w, 512w`` and strides ``1, 2, 2, 2`` (on each stage's
    first block). There is no BN-ReLU after the last stage (the authors pool
    the raw sum of the last block). With stem stride 2 and a
    ``Linear(512, 200)`` head, PreActResNet-18 (w=1) has 11,268,616
    parameters.

    ``forward`` applies ``conv1`` first and uses it nowhere else, so
    the MixMo classifier can replace it by per-member encoders.

    Args:
        depth (int): 18 (2, 2, 2, 2 blocks) or 34 (3, 4, 6, 3 blocks).
            Defaults to 18.
        width (int): Width multiplier ``w`` of the stages. Defaults to 1.
        in_channels (int): Input image channels. Defaults to 3.
        stem_channels (int): Output channels of ``conv1``. Defaults to 64.
        stem_stride (int): Stride of ``conv1``; 1 for CIFAR-size inputs, 2
            for Tiny ImageNet (64x64 -> 32x32). Defaults to 1.
        base_channels (int): Width of the first stage before the multiplier
            ``w``; the stages have ``base_channels * 2**i * w`` channels. The
            paper's network uses 64; smaller values give tiny test models.
            Defaults to 64.
        out_indices (int | Sequence[int]): Stages whose output is returned
            (0..3; negative values count from the end). Defaults to ``(3, )``.
        norm_cfg (dict): Config of the norm layers.
            Defaults to ``dict(type='BN')``.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to the authors' init: truncated He-normal (fan-in) for
            every ``Conv2d`` and gamma 1 / beta 0 for the BN layers.

    Example:
        >>> import torch
        >>> from mmmixmo.models.backbones import PreActResNet
        >>> model = PreActResNet(width=1, stem_stride=2).eval()
        >>> [tuple(o.shape) for o in model(torch.rand(1, 3, 64, 64))]
        [(1, 512, 4, 4)]
    """

    arch_settings = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
    stage_strides = (1, 2, 2, 2)

    def __init__(
        self,
        depth: int = 18,
        width: int = 1,
        in_channels: int = 3,
        stem_channels: int = 64,
        stem_stride: int = 1,
        base_channels: int = 64,
        out_indices: Union[int, Sequence[int]] = (3, ),
        norm_cfg: dict = dict(type='BN'),
        init_cfg: Optional[Union[dict,
                                 List[dict]]] = AUTHORS_INIT_CFG) -> None:
        super().__init__(init_cfg)
        if depth not in self.arch_settings:
            raise ValueError('model.backbone.depth must be one of '
                             f'{sorted(self.arch_settings)}, got {depth!r}')
        if not isinstance(width, int) or width < 1:
            raise ValueError(
                f'model.backbone.width must be a positive int, got {width!r}')
        if not isinstance(stem_stride, int) or stem_stride < 1:
            raise ValueError('model.backbone.stem_stride must be a positive '
                             f'int, got {stem_stride!r}')
        self.depth = depth
        self.width = width
        self.stage_blocks = self.arch_settings[depth]
        self.num_stages = len(self.stage_blocks)
        self.out_indices = check_out_indices(out_indices, self.num_stages)
        if not isinstance(base_channels, int) or base_channels < 1:
            raise ValueError('model.backbone.base_channels must be a positive '
                             f'int, got {base_channels!r}')
        self.stage_channels = tuple(base_channels * 2**i * width
                                    for i in range(self.num_stages))

        self.conv1 = nn.Conv2d(
            in_channels,
            stem_channels,
            3,
            stride=stem_stride,
            padding=1,
            bias=False)
        self.res_layers = []
        channels = stem_channels
        for i, (num_blocks, out_channels, stride) in enumerate(
                zip(self.stage_blocks, self.stage_channels,
                    self.stage_strides)):
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    PreActBasicBlock(
                        channels,
                        out_channels,
                        stride=stride if j == 0 else 1,
                        norm_cfg=norm_cfg))
                channels = out_channels
            layer_name = f'layer{i + 1}'
            self.add_module(layer_name, nn.Sequential(*blocks))
            self.res_layers.append(layer_name)
        self.out_channels = channels

    def train(self, mode: bool = True) -> 'PreActResNet':
        """Set the training mode and return ``self``.

        ``BaseBackbone.train`` returns None, which would make
        ``backbone.eval()`` return None; this keeps PyTorch's chaining.

        Args:
            mode (bool): Training mode (True) or evaluation mode (False).
                Defaults to True.

        Returns:
            PreActResNet: ``self``.
        """
        super().train(mode)
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Compute the features of the requested stages.

        Args:
            x (Tensor): Images of shape ``(B, in_channels, H, W)`` (or, when
                ``conv1`` was replaced by Identity, encoder features of shape
                ``(B, stem_channels, H / stem_stride, W / stem_stride)``).

        Returns:
            tuple[Tensor]: One map per index in ``out_indices``; stage ``i``
            has shape ``(B, base_channels * 2**i * w, H / (stem_stride *
            2**i), W / (stem_stride * 2**i))``.
            No normalisation after the last stage.
        """
        x = self.conv1(x)
        outs = []
        for i, layer_name in enumerate(self.res_layers):
            x = getattr(self, layer_name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
