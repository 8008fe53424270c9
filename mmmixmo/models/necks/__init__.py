from .base_mixing import BaseMixing, MixingOutput
from .cut_mixing import CutMixing
from .cut_or_linear_mixing import CutOrLinearMixing
from .linear_mixing import LinearMixing

__all__ = [
    'BaseMixing', 'MixingOutput', 'LinearMixing', 'CutMixing',
    'CutOrLinearMixing'
]
