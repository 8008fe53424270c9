"""FMix-MixMo mixing block (thresholded low-frequency Fourier noise)."""
from typing import Optional

import torch
from mmpretrain.registry import MODELS
from torch import Tensor

from .binary_mask_mixing import (BinaryMaskMixing, check_positive,
                                 top_area_masks)


def fourier_noise(batch_size: int, height: int, width: int,
                  decay_power: float, device: torch.device) -> Tensor:
    """Draw low-frequency Fourier noise, one ``H x W`` map per sample.

    As in FMix (Harris et al., 2020): a complex spectrum with independent
    standard normal real and imaginary parts is scaled by
    ``1 / max(f, 1 / max(H, W)) ** decay_power``, ``f`` being the magnitude
    of the (``fftfreq`` x ``rfftfreq``) frequency, and brought back to the
    grid by a real inverse 2-D FFT (``torch.fft.irfft2``). A larger
    ``decay_power`` removes more high frequencies, giving fewer and
    smoother blobs.

    Args:
        batch_size (int): Number of maps ``B``.
        height (int): Grid height ``H``.
        width (int): Grid width ``W``.
        decay_power (float): Decay exponent of the spectrum (> 0).
        device (torch.device): Where to draw the noise.

    Returns:
        Tensor: Float32 noise of shape ``(B, H, W)``.
    """
    freq_y = torch.fft.fftfreq(height, device=device).view(height, 1)
    freq_x = torch.fft.rfftfreq(width, device=device).view(1, -1)
    freq = (freq_y.square() + freq_x.square()).sqrt()
    scale = freq.clamp_min(1.0 / max(height, width)).pow(-decay_power)
    spectrum = torch.randn(
        batch_size, height, freq_x.shape[1], 2, device=device)
    spectrum = torch.view_as_complex(spectrum * scale.unsqueeze(-1))
    return torch.fft.irfft2(spectrum, s=(height, width))


@MODELS.register_module()
class FMixMixing(BinaryMaskMixing):
    """FMix-MixMo: one member owns a thresholded Fourier-noise mask.

    The mixing of :class:`~mmmixmo.models.necks.BinaryMaskMixing` (per-sample
    ``kappa ~ Dirichlet(alpha)``, one owner ``A`` per batch, the others share
    the complement in proportion to their ``kappa``) with FMix's masks
    (Harris et al., "FMix: Enhancing Mixed Sample Data Augmentation", 2020):
    per sample, low-frequency noise from :func:`fourier_noise` is made
    binary by keeping its ``round(kappa_A * H * W)`` highest cells (see
    :func:`~mmmixmo.models.necks.binary_mask_mixing.top_area_masks`). The
    owner's area is therefore exact, ``round(kappa_A * H * W) / (H * W)``
    (FMix itself rounds up or down at random; the difference is below one
    cell). The masks are drawn on the features' grid (32x32 in the MixMo
    recipes), on their device. Used in the paper's mixing-block ablation
    (CIFAR-100, WRN-28-10, M = 2: 83.76 top-1).

    Args:
        num_members (int): Number of members ``M`` (>= 2). Defaults to 2.
        alpha (float): Dirichlet concentration (> 0). Defaults to 2.0, the
            MixMo authors' value.
        decay_power (float): Decay exponent of the Fourier spectrum (> 0).
            Defaults to 3.0, FMix's default.
        init_cfg (dict, optional): Initialization config dict.
            Defaults to None.
    """

    def __init__(self,
                 num_members: int = 2,
                 alpha: float = 2.0,
                 decay_power: float = 3.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            num_members=num_members, alpha=alpha, init_cfg=init_cfg)
        self.decay_power = check_positive(decay_power, 'decay_power')

    def owner_masks(self, area: Tensor, height: int, width: int) -> Tensor:
        """Threshold Fourier noise at exactly the requested areas.

        Args:
            area (Tensor): Requested area ratios in ``[0, 1]``, shape
                ``(B, )``.
            height (int): Feature height ``H``.
            width (int): Feature width ``W``.

        Returns:
            Tensor: Float32 binary masks of shape ``(B, H, W)`` with exactly
            ``round(area * H * W)`` ones each.
        """
        noise = fourier_noise(area.shape[0], height, width, self.decay_power,
                              area.device)
        return top_area_masks(noise, area)

    def extra_repr(self) -> str:
        """Extra information printed with the module."""
        return (f'num_members={self.num_members}, alpha={self.alpha}, '
                f'decay_power={self.decay_power}')
