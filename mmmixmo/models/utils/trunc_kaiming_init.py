"""Truncated He-normal (fan-in) initialization of the MixMo authors."""
import math

import torch
from mmengine.model.weight_init import (BaseInit, _get_bases_name,
                                        update_init_info)
from mmpretrain.registry import WEIGHT_INITIALIZERS
from torch import Tensor, nn

TRUNCATED_STD = 0.87962566103423978  # std of N(0, 1) truncated at +-2


def trunc_kaiming_normal_(tensor: Tensor) -> Tensor:
    """Fill a weight ``(C_out, *fan_in_dims)`` in place; returns it.

    Note: as the authors' TensorFlow ``VarianceScaling(2.0, 'fan_in',
    'truncated_normal')``: ``N(0, s^2)``, ``s = sqrt(2 / fan_in) / 0.8796``,
    values outside ``+-2s`` redrawn, so that the std is ``sqrt(2 / fan_in)``.
    """
    if tensor.dim() < 2:
        raise ValueError('TruncKaiming needs a weight with at least 2 '
                         f'dimensions, got shape {tuple(tensor.shape)}')
    std = math.sqrt(2.0 / tensor[0].numel()) / TRUNCATED_STD
    if tensor.is_meta:
        return tensor
    with torch.no_grad():
        # Rejection sampling: faster than nn.init.trunc_normal_ on CPU.
        values = tensor.new_empty(tensor.numel()).normal_(0.0, std)
        redraw = (values.abs() > 2.0 * std).nonzero().squeeze(1)
        while redraw.numel() > 0:
            new = values.new_empty(redraw.numel()).normal_(0.0, std)
            kept = new.abs() <= 2.0 * std
            values[redraw[kept]] = new[kept]
            redraw = redraw[~kept]
        tensor.copy_(values.view_as(tensor))
    return tensor


@WEIGHT_INITIALIZERS.register_module(name='TruncKaiming')
class TruncKaimingInit(BaseInit):
    """Truncated He-normal weights (:func:`trunc_kaiming_normal_`), bias
    ``bias``; ``layer`` and ``override`` work as in mmengine's inits."""

    def __call__(self, module: nn.Module) -> None:
        def init(m: nn.Module) -> None:
            names = [m.__class__.__name__] + _get_bases_name(m)
            if self.wholemodule or set(self.layer) & set(names):
                if getattr(m, 'weight', None) is not None:
                    trunc_kaiming_normal_(m.weight.data)
                if getattr(m, 'bias', None) is not None:
                    nn.init.constant_(m.bias, self.bias)

        module.apply(init)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        return (f'{self.__class__.__name__}: mode=fan_in, std=sqrt(2/fan_in)'
                f'/0.8796, truncation=+-2std, bias={self.bias}')
