from .base_mixing import BaseMixing, MixingOutput
from .cut_mixing import CutMixing
from .cut_or_linear_mixing import CutOrLinearMixing
from .linear_mixing import LinearMixing
from .binary_mask_mixing import BinaryMaskMixing
from .concat_mixing import ConcatMixing
from .cowmix_mixing import CowMixMixing
from .fmix_mixing import FMixMixing
from .patchup_mixing import PatchUpMixing

__all__ = [
    'BaseMixing', 'MixingOutput', 'LinearMixing', 'CutMixing',
    'CutOrLinearMixing', 'BinaryMaskMixing', 'FMixMixing', 'CowMixMixing',
    'PatchUpMixing', 'ConcatMixing'
]
