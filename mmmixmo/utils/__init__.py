"""Narrow compatibility fixes for the tested stack (see README).

Importing :mod:`mmmixmo` applies :func:`patch_local_checkpoint_loader`, so
mmengine's own checkpoints load with torch >= 2.6, and registers
``CPUDistributedDataParallel``; ``tools/train.py`` and ``tools/test.py`` call
:func:`setup_cpu_distributed` for distributed runs without a GPU and
:func:`teardown_distributed` when a run has finished.
"""
from .checkpoint_loading import (history_buffer_getattr,
                                 mmengine_checkpoint_globals,
                                 patch_local_checkpoint_loader)
from .cpu_distributed import (CPU_DDP_TYPE, CPUDistributedDataParallel,
                              setup_cpu_distributed, teardown_distributed)

patch_local_checkpoint_loader()

__all__ = [
    'CPU_DDP_TYPE', 'CPUDistributedDataParallel', 'history_buffer_getattr',
    'mmengine_checkpoint_globals', 'patch_local_checkpoint_loader',
    'setup_cpu_distributed', 'teardown_distributed'
]
