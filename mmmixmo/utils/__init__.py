"""Compatibility fixes for the tested stack (checkpoint loading, CPU DDP)."""
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
