"""Distributed runs (``tools/dist_train.sh``) on machines without a GPU.

mmengine 0.10.7 fails there twice: ``init_dist`` calls
``torch.cuda.set_device`` before creating the process group, and
``Runner.wrap_model`` passes ``device_ids``, which DDP rejects for a CPU
module. :func:`setup_cpu_distributed` creates the gloo group first (the runner
then skips ``init_dist``) and selects :class:`CPUDistributedDataParallel`.
:func:`teardown_distributed` fixes a gloo SIGABRT at exit, which made torchrun
report finished runs as failed.
"""
import datetime
import gc
import os
from typing import Optional

import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.model import MMDistributedDataParallel
from mmpretrain.registry import MODEL_WRAPPERS
from torch import nn

# Scoped, so that mmengine's root registry (used by the runner) finds it.
CPU_DDP_TYPE = 'mmpretrain.CPUDistributedDataParallel'
_MMENGINE_DDP = (None, 'MMDistributedDataParallel',
                 'mmengine.MMDistributedDataParallel',
                 MMDistributedDataParallel)


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that drops ``device_ids`` on the CPU."""

    def __init__(self,
                 module: nn.Module,
                 device_ids: Optional[list] = None,
                 **kwargs) -> None:
        param = next(module.parameters(), None)
        if param is None or param.device.type == 'cpu':
            device_ids = None
            kwargs.pop('output_device', None)
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def setup_cpu_distributed(cfg: Config) -> bool:
    """Before the runner is built: on the CPU, the gloo group and CPU DDP.

    Acts only for a distributed run (``cfg.launcher``) on mmengine's CPU
    device. Creates the process group from torchrun's environment and
    ``env_cfg.dist_cfg`` (``'nccl'`` becomes ``'gloo'``) unless one exists,
    and makes mmengine's default wrapper :class:`CPUDistributedDataParallel`
    in ``cfg.model_wrapper_cfg``. Returns whether it acted.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or get_device() != 'cpu':
        return False
    if launcher != 'pytorch':
        raise ValueError(
            f'launcher={launcher!r} needs a GPU per process; on a machine '
            f'without GPU use launcher=pytorch (tools/dist_train.sh, '
            f'tools/dist_test.sh)')
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}) or {})
        backend = dist_cfg.pop('backend', 'nccl')
        dist_cfg.pop('init_backend', None)
        timeout = dist_cfg.pop('timeout', None)
        if timeout is not None:
            dist_cfg['timeout'] = datetime.timedelta(seconds=timeout)
        missing = [
            key for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
            if key not in os.environ
        ]
        if missing:
            raise RuntimeError(
                f'launcher=pytorch needs the environment of torchrun '
                f'(tools/dist_train.sh); missing {", ".join(missing)}')
        torch_dist.init_process_group(
            backend='gloo' if backend == 'nccl' else backend,
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **dist_cfg)
    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = dict(
            type=CPU_DDP_TYPE,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif wrapper_cfg.get('type', None) in _MMENGINE_DDP:
        wrapper_cfg['type'] = CPU_DDP_TYPE
    return True


def teardown_distributed() -> bool:
    """Barrier, then destroy the process group; returns whether it did.

    Call it after a successful run, once the runner (whose DDP reducer holds
    the group) is dropped: a gloo rank exiting while a peer still saves a
    checkpoint may otherwise abort in gloo's C++ teardown (SIGABRT).
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return False
    gc.collect()  # frees the runner's reference cycles, joining gloo threads
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    return True
