"""FMix-MixMo mixing block."""
import math

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .binary_mask_mixing import BinaryMaskMixing, top_area_masks


@MODELS.register_module()
class FMixMixing(BinaryMaskMixing):
    """FMix-MixMo: the owner keeps the top cells of low-frequency noise.

    As FMix (Harris et al., 2020): a complex spectrum of standard normals,
    scaled by ``1 / max(f, 1 / max(H, W)) ** decay_power``, is brought back
    to the grid by an inverse real FFT; the owner keeps its
    ``round(kappa_A * H * W)`` highest cells (FMix rounds at random instead).

    Args:
        decay_power (float): Decay exponent of the spectrum; larger values
            give fewer, smoother blobs. Defaults to 3.0, FMix's default.
        **kwargs: ``num_members``, ``alpha`` and ``init_cfg`` of
            :class:`BaseMixing`.
    """

    def __init__(self, decay_power: float = 3.0, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 < decay_power < math.inf:
            raise ValueError('model.mixing.decay_power must be finite and '
                             f'> 0, got {decay_power}')
        self.decay_power = decay_power

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        device = area.device
        freq_y = torch.fft.fftfreq(height, device=device).view(height, 1)
        freq_x = torch.fft.rfftfreq(width, device=device).view(1, -1)
        freq = (freq_y.square() + freq_x.square()).sqrt()
        scale = freq.clamp_min(1.0 / max(height, width)).pow(-self.decay_power)
        spectrum = torch.randn(
            area.shape[0], height, freq_x.shape[1], 2, device=device)
        spectrum = torch.view_as_complex(spectrum * scale.unsqueeze(-1))
        noise = torch.fft.irfft2(spectrum, s=(height, width))
        return top_area_masks(noise, area)
