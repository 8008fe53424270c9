"""The M member encoders of a MixMo network, in the place of the backbone's
first convolution."""
import copy
from typing import List, Optional, Sequence, Union

import torch
from mmengine.logging import print_log
from mmengine.model import BaseModule
from torch import Tensor, nn


def fold_members(params: Sequence[Optional[Tensor]]) -> Optional[Tensor]:
    """The weight (or bias) of the one convolution that sums the members'.

    Convolution is linear in its kernel: ``sum_i conv_i(x)`` is the
    convolution of ``x`` with ``sum_i W_i`` and ``sum_i b_i``. The sum runs
    left to right, which :func:`unfold_members` inverts exactly.
    """
    if params[0] is None:
        return None
    total = params[0]
    for param in params[1:]:
        total = total + param
    return total


def unfold_members(param: Tensor, num_members: int) -> List[Tensor]:
    """M member weights (or biases) that :func:`fold_members` sums to
    ``param`` exactly.

    Every member is ``param / M``, except that the last one takes the
    rounding: it is ``param`` minus the sum of the others, which is exact in
    floating point (the two differ by less than a factor 2), so the members
    add up to ``param`` bit for bit.
    """
    share = param / num_members
    members = [share.clone() for _ in range(num_members - 1)]
    members.append(param - fold_members(members))
    return members


def find_encoder_layer(backbone: nn.Module, name: Optional[str]) -> str:
    """The dotted name of the backbone's first convolution.

    Args:
        backbone (nn.Module): The single network's backbone.
        name (str, optional): ``model.encoder_layer``; None finds the only
            ``nn.Conv2d`` with the input channels of the first one.

    Returns:
        str: The name, checked to be an ``nn.Conv2d`` of ``backbone`` with
        the first one's input channels.
    """
    convs = {
        key: module
        for key, module in backbone.named_modules()
        if isinstance(module, nn.Conv2d)
    }
    kind = type(backbone).__name__
    if not convs:
        raise ValueError(f'model.backbone {kind} has no nn.Conv2d: MixMo '
                         'replaces its first convolution by the member '
                         'encoders')
    channels = next(iter(convs.values())).in_channels
    found = [key for key, conv in convs.items()
             if conv.in_channels == channels]
    if name is not None:
        if name not in found:
            raise ValueError(
                f'model.encoder_layer={name!r} is not an nn.Conv2d of {kind} '
                f'that can read the image ({channels} channels): '
                f'{", ".join(found[:4])}')
        return name
    if len(found) > 1:
        raise ValueError(
            f'model.encoder_layer: {len(found)} convolutions of {kind} take '
            f'{channels} channels ({", ".join(found[:4])}); set '
            'model.encoder_layer to the one that reads the image (a '
            'backbone in which several read it, like RepVGG\'s two-branch '
            'stem, cannot be a MixMo backbone)')
    return found[0]


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
            inputs (Tensor): The M member images stacked on the channels
                ``(B, M * C, H, W)``, or images ``(B, C, H, W)`` that every
                member sees (test time).

        Returns:
            list[Tensor] | Tensor: The M encodings ``(B, C0, H', W')``, or
            for shared images their sum, computed as one convolution (see
            :func:`fold_members`), so that inference costs one network.
        """
        first = self.convs[0]
        if inputs.size(1) == len(self.convs) * first.in_channels:
            return [
                conv(member) for conv, member in zip(
                    self.convs, inputs.split(first.in_channels, dim=1))
            ]
        weight, bias = (
            fold_members([getattr(conv, name) for conv in self.convs])
            for name in ('weight', 'bias'))
        if type(first).forward is nn.Conv2d.forward:
            return first._conv_forward(inputs, weight, bias)
        # a convolution with a forward of its own (e.g. mmcv's
        # Conv2dAdaptivePadding pads first), run with the summed parameters
        folded = {'weight': weight}
        if bias is not None:
            folded['bias'] = bias
        return torch.func.functional_call(first, folded, (inputs, ))


class EncoderSlot(nn.Module):
    """Stands in the backbone where its first convolution was.

    Whatever the backbone does before that convolution (padding, token
    bookkeeping) runs on the images as in the single network; the slot then
    runs the classifier's member encoders and, on member images, its mixing
    block, whose masks it keeps in ``masks`` for the loss. The encoders and
    the mixing block stay the classifier's modules (their weights are saved
    as ``encoders.*``); the slot holds no weights.

    Args:
        layer (str): Its dotted name in the backbone (``encoder_layer``).
        encoders (MemberEncoders): The classifier's encoders.
        mixing (nn.Module): The classifier's mixing block.
    """

    def __init__(self, layer: str, encoders: MemberEncoders,
                 mixing: nn.Module) -> None:
        super().__init__()
        self.layer = layer
        # plain references: the classifier registers (and saves) both
        object.__setattr__(self, 'encoders', encoders)
        object.__setattr__(self, 'mixing', mixing)
        self.masks: Optional[Tensor] = None

    def forward(self, inputs: Tensor) -> Tensor:
        """Encode (and mix) what reaches the first convolution.

        Args:
            inputs (Tensor): ``(B, M * C, H, W)`` member images (training) or
                ``(B, C, H, W)`` shared images.

        Returns:
            Tensor: The mixed encodings, or the folded encoding, each
            ``(B, C0, H', W')``.
        """
        encoded = self.encoders(inputs)
        if isinstance(encoded, Tensor):
            return encoded
        mixed, self.masks = self.mixing(encoded)
        return mixed

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              *args) -> None:
        """Start the encoders from a single network's first convolution
        when the backbone alone loads it (its ``init_cfg`` Pretrained).

        Loads of the whole classifier give the encoders their own keys
        (``MixMoClassifier`` unfolds a single network's first).
        """
        if prefix == f'{self.layer}.':
            self._unfold_into_encoders(state_dict, prefix)
        super()._load_from_state_dict(state_dict, prefix, *args)

    def start_from_single_network(self, conv: nn.Conv2d) -> None:
        """Start the encoders from the single network's trained first
        convolution (a backbone built with its weights, e.g. timm's
        ``pretrained=True``)."""
        self._unfold_into_encoders(
            {
                f'{self.layer}.{name}': param.detach().clone()
                for name, param in conv.named_parameters()
            }, f'{self.layer}.')

    def _unfold_into_encoders(self, state_dict: dict, prefix: str) -> None:
        convs = self.encoders.convs
        params = []
        for name in ('weight', 'bias'):
            if getattr(convs[0], name) is None or \
                    prefix + name not in state_dict:
                continue
            param = state_dict.pop(prefix + name)
            shape = getattr(convs[0], name).shape
            if param.shape != shape:
                raise ValueError(
                    f"the weights loaded into the backbone: '{prefix}{name}' "
                    f'has shape {list(param.shape)}, the member encoders '
                    f'{list(shape)} (model.backbone.init_cfg)')
            params.append((name, param))
        if not params or params[0][0] != 'weight':
            raise ValueError(
                f"the weights loaded into the backbone have no '{prefix}"
                "weight', the first convolution of the single network the "
                'member encoders start from (model.backbone.init_cfg '
                'Pretrained needs a single network\'s checkpoint); load a '
                'MixMo checkpoint into the whole model, with load_from')
        with torch.no_grad():
            for name, param in params:
                for conv, member in zip(convs,
                                        unfold_members(param, len(convs))):
                    getattr(conv, name).copy_(member)
        self.encoders._is_init = True  # not re-initialised after the backbone
        print_log(
            f'backbone.{self.layer}: the {len(convs)} member encoders start '
            f'from the pretrained convolution / {len(convs)}',
            logger='current')
