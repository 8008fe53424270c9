from . import transforms  # noqa: F401
from .cifar import LocalCIFAR10, LocalCIFAR100  # noqa: F401
from .cifar_c import CIFARC  # noqa: F401
from .tiny_imagenet import TinyImageNet  # noqa: F401
from .digits import Digits  # noqa: F401
from .svhn import SVHN  # noqa: F401
from .ood_dataset import OODDataset  # noqa: F401
