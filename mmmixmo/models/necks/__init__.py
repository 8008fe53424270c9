from .base_mixing import BaseMixing
from .binary_mask_mixing import BinaryMaskMixing
from .concat_mixing import ConcatMixing
from .cowmix_mixing import CowMixMixing
from .cut_mixing import CutMixing
from .cut_or_linear_mixing import CutOrLinearMixing
from .fmix_mixing import FMixMixing
from .linear_mixing import LinearMixing
from .patchup_mixing import PatchUpMixing

__all__ = [
    'BaseMixing', 'BinaryMaskMixing', 'ConcatMixing', 'CowMixMixing',
    'CutMixing', 'CutOrLinearMixing', 'FMixMixing', 'LinearMixing',
    'PatchUpMixing'
]
