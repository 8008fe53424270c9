"""Truncated He-normal (fan-in) initialisation of the MixMo authors."""
import math
from typing import Union

import torch
from mmengine.model.weight_init import (BaseInit, _get_bases_name,
                                        update_init_info)
from mmpretrain.registry import WEIGHT_INITIALIZERS
from torch import Tensor, nn

#: Standard deviation of a unit normal truncated at +-2 (TensorFlow's constant).
TRUNCATED_STD = 0.87962566103423978


def trunc_kaiming_normal_(tensor: Tensor) -> Tensor:
    """Fill a weight in place with the authors' truncated He-normal values.

    As TensorFlow's ``VarianceScaling(2.0, 'fan_in', 'truncated_normal')``,
    which the authors use: values are drawn from ``N(0, s^2)`` with
    ``s = sqrt(2 / fan_in) / 0.8796`` and every value outside ``[-2 s, 2 s]``
    is redrawn (rejection sampling, so the law is exactly the truncated
    normal). Dividing by 0.8796, the standard deviation of a unit normal
    truncated at +-2, makes the empirical standard deviation exactly
    ``sqrt(2 / fan_in)``.

    Args:
        tensor (Tensor): Weight with at least 2 dimensions, of shape
            ``(C_out, C_in / groups, *kernel_size)`` (the fan-in is the
            product of all dimensions but the first).

    Returns:
        Tensor: ``tensor``, filled in place.
    """
    if tensor.dim() < 2:
        raise ValueError('TruncKaiming needs a weight with at least 2 '
                         f'dimensions to compute the fan-in, got shape '
                         f'{tuple(tensor.shape)}')
    fan_in = tensor[0].numel()
    std = math.sqrt(2.0 / fan_in) / TRUNCATED_STD
    if tensor.is_meta:
        return tensor
    bound = 2.0 * std
    with torch.no_grad():
        values = torch.empty(
            tensor.numel(), dtype=tensor.dtype,
            device=tensor.device).normal_(0.0, std)
        # Redraw the values outside [-2 std, 2 std] (4.6 % of them, then
        # 4.6 % of those, ...) until none is left. Same law as
        # ``nn.init.trunc_normal_`` but several times faster on CPU, which
        # matters for the 36M weights of WRN-28-10.
        redraw = (values.abs() > bound).nonzero().squeeze(1)
        while redraw.numel() > 0:
            new = values.new_empty(redraw.numel()).normal_(0.0, std)
            kept = new.abs() <= bound
            values[redraw[kept]] = new[kept]
            redraw = redraw[~kept]
        tensor.copy_(values.view_as(tensor))
    return tensor


def trunc_kaiming_init(module: nn.Module, bias: Union[int, float] = 0) -> None:
    """Initialise one module: truncated He-normal weight, constant bias.

    Args:
        module (nn.Module): Module with a ``weight`` (and maybe a ``bias``),
            e.g. ``nn.Conv2d`` or ``nn.Linear``.
        bias (int | float): Value to fill the bias with. Defaults to 0.
    """
    if getattr(module, 'weight', None) is not None:
        trunc_kaiming_normal_(module.weight.data)
    if getattr(module, 'bias', None) is not None:
        nn.init.constant_(module.bias, bias)


@WEIGHT_INITIALIZERS.register_module(name='TruncKaiming')
class TruncKaimingInit(BaseInit):
    r"""Truncated He-normal (fan-in) initialisation, as in the MixMo code.

    Every selected weight is drawn from :math:`\mathcal{N}(0, s^2)`,
    :math:`s = \sqrt{2 / \text{fan\_in}} / 0.8796`, truncated at
    :math:`\pm 2s` (values outside are redrawn), and the bias is filled
    with ``bias``: TensorFlow's truncated ``VarianceScaling``, whose
    correction for the truncation gives the weights an empirical standard
    deviation of exactly :math:`\sqrt{2 / \text{fan\_in}}`. The MixMo authors
    use it for every convolution (and for the WRN heads).

    In our backbones the default ``init_cfg`` names it
    ``'mmpretrain.TruncKaiming'`` (the scoped name, which resolves whatever
    the default scope is); under ``default_scope='mmpretrain'`` the plain
    ``'TruncKaiming'`` works too.

    The layer selection (``layer``) and the ``override`` mechanism of
    ``init_cfg`` work as for mmengine's upstream initialisers, e.g.
    ``dict(type='TruncKaiming', layer='Conv2d')`` or
    ``dict(type='TruncKaiming', layer='Linear', bias=0)``.

    Args:
        bias (int | float): Value to fill the bias with. Defaults to 0.
        bias_prob (float, optional): Probability used to compute the bias
            value instead of ``bias``. Defaults to None.
        layer (str | list[str], optional): Names of the layer classes (or of
            their direct base classes) to initialise. Defaults to None.
    """

    def __call__(self, module: nn.Module) -> None:
        """Initialise the selected layers of ``module`` in place.

        Args:
            module (nn.Module): Module whose sub-modules are visited.
        """

        def init(m: nn.Module) -> None:
            if self.wholemodule:
                trunc_kaiming_init(m, self.bias)
                return
            names = [m.__class__.__name__] + _get_bases_name(m)
            if set(self.layer) & set(names):
                trunc_kaiming_init(m, self.bias)

        module.apply(init)
        if hasattr(module, '_params_init_info'):
            update_init_info(module, init_info=self._get_init_info())

    def _get_init_info(self) -> str:
        """Describe the initialiser for mmengine's init log."""
        return (f'{self.__class__.__name__}: mode=fan_in, '
                f'std=sqrt(2/fan_in)/0.8796, truncation=+-2std, '
                f'bias={self.bias}')
