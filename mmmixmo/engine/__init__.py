from . import hooks  # noqa: F401
from .hook_args import check_hook_args

__all__ = ['check_hook_args']
