"""Stem convolution and stages of pre-activation blocks."""
from typing import Callable, List, Sequence, Tuple, Union

from mmcv.cnn import build_norm_layer
from mmpretrain.models.backbones.base_backbone import BaseBackbone
from torch import Tensor, nn

# Registers 'TruncKaiming', used by AUTHORS_INIT_CFG.
from ..utils.trunc_kaiming_init import TruncKaimingInit  # noqa: F401

# The authors' init. Layer-wise rules only: MixMoClassifier reuses them for
# its member encoders. The scoped type resolves under any default scope.
AUTHORS_INIT_CFG = [
    dict(type='mmpretrain.TruncKaiming', layer='Conv2d'),
    dict(type='Constant', val=1, bias=0, layer=['_BatchNorm']),
]


def check_positive_ints(**values: int) -> None:
    """Raise if a ``model.backbone.<key>`` is not a positive int."""
    for key, value in values.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f'model.backbone.{key} must be a positive int, got {value!r}')


class PreActBackbone(BaseBackbone):
    """``conv1``, then stages ``layer1, layer2, ...`` of pre-activation blocks.

    ``forward`` applies ``conv1`` first and nowhere else, so that the MixMo
    classifier can replace it by its member encoders.

    Args:
        conv1 (nn.Conv2d): The stem convolution.
        block (Callable): ``block(in_channels, out_channels, stride,
            norm_cfg)`` builds a block.
        stage_blocks, stage_channels, stage_strides (Sequence[int]): Number
            of blocks, output channels and first stride of each stage.
        out_indices (int | Sequence[int]): Stages whose output is returned;
            negative values count from the end.
        final_norm (bool): Whether a BN-ReLU follows the last stage.
        norm_cfg (dict): Config of the norm layers.
        init_cfg (list[dict]): Layer-wise initialization rules.
    """

    def __init__(self, conv1: nn.Conv2d, block: Callable,
                 stage_blocks: Sequence[int], stage_channels: Sequence[int],
                 stage_strides: Sequence[int],
                 out_indices: Union[int, Sequence[int]], final_norm: bool,
                 norm_cfg: dict, init_cfg: List[dict]) -> None:
        super().__init__(init_cfg)
        num = len(stage_blocks)
        indices = (out_indices, ) if isinstance(out_indices, int) else \
            tuple(out_indices)
        if not indices or not all(
                isinstance(i, int) and -num <= i < num for i in indices):
            raise ValueError('model.backbone.out_indices must hold stage '
                             f'indices in [{-num}, {num - 1}], got '
                             f'{out_indices!r}')
        self.out_indices = tuple(i % num for i in indices)
        self.conv1 = conv1
        self.res_layers = []
        channels = conv1.out_channels
        for i, (num_blocks, out_channels, stride) in enumerate(
                zip(stage_blocks, stage_channels, stage_strides)):
            blocks = []
            for j in range(num_blocks):
                blocks.append(
                    block(channels, out_channels, stride if j == 0 else 1,
                          norm_cfg))
                channels = out_channels
            self.add_module(f'layer{i + 1}', nn.Sequential(*blocks))
            self.res_layers.append(f'layer{i + 1}')
        self.final_norm, self.final_relu = None, None
        if final_norm:
            self.final_norm = build_norm_layer(norm_cfg, channels)[1]
            self.final_relu = nn.ReLU(inplace=True)

    def train(self, mode: bool = True) -> 'PreActBackbone':
        """Set the mode; returns ``self`` (``BaseBackbone.train`` does not)."""
        super().train(mode)
        return self

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Images ``(B, C, H, W)`` (or ``conv1`` features if ``conv1`` was
        replaced) -> the output of the stages in ``out_indices``, in stage
        order: ``(B, stage_channels[i], H_i, W_i)``."""
        x = self.conv1(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if self.final_norm is not None and i == len(self.res_layers) - 1:
                x = self.final_relu(self.final_norm(x))
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
