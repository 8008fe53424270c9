"""Checkpoint loading (torch >= 2.6, exact fit), CPU DDP and config loading
for the stack."""
from .checkpoint_loading import (CheckpointMismatchError, check_calibration,
                                 history_buffer_getattr,
                                 load_checkpoint_checked,
                                 load_state_dict_checked,
                                 mmengine_checkpoint_globals,
                                 patch_local_checkpoint_loader)
from .config import build_model, load_config, model_config
from .cpu_distributed import (CPU_DDP_TYPE, CPUDistributedDataParallel,
                              setup_cpu_distributed, teardown_distributed)

patch_local_checkpoint_loader()

__all__ = [
    'CPU_DDP_TYPE', 'CPUDistributedDataParallel', 'CheckpointMismatchError',
    'build_model', 'check_calibration', 'history_buffer_getattr',
    'load_checkpoint_checked', 'load_config', 'load_state_dict_checked',
    'mmengine_checkpoint_globals', 'model_config',
    'patch_local_checkpoint_loader', 'setup_cpu_distributed',
    'teardown_distributed'
]
