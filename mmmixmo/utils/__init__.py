"""Checkpoint loading (torch >= 2.6, exact fit) and CPU DDP for the stack."""
from .checkpoint_loading import (CheckpointMismatchError, check_calibration,
                                 history_buffer_getattr,
                                 load_checkpoint_checked,
                                 load_state_dict_checked,
                                 mmengine_checkpoint_globals,
                                 patch_local_checkpoint_loader)
from .cpu_distributed import (CPU_DDP_TYPE, CPUDistributedDataParallel,
                              setup_cpu_distributed, teardown_distributed)

patch_local_checkpoint_loader()

__all__ = [
    'CPU_DDP_TYPE', 'CPUDistributedDataParallel', 'CheckpointMismatchError',
    'check_calibration', 'history_buffer_getattr', 'load_checkpoint_checked',
    'load_state_dict_checked', 'mmengine_checkpoint_globals',
    'patch_local_checkpoint_loader', 'setup_cpu_distributed',
    'teardown_distributed'
]
