from . import (backbones, classifiers, data_preprocessors, heads,  # noqa: F401
               necks, tta, utils)
