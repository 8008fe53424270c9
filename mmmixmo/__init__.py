"""mmmixmo: MixMo (Ramé, Sun, Cord, ICCV 2021) and its family for MMPretrain.

Importing this package registers every component into ``mmpretrain.registry``
(MODELS, DATASETS, TRANSFORMS, METRICS, HOOKS, WEIGHT_INITIALIZERS) and
applies the narrow compatibility fixes of :mod:`mmmixmo.utils`.
"""
from . import apis, datasets, engine, evaluation, models, utils  # noqa: F401
from .version import __version__

__all__ = ['__version__']
