"""Distributed training and testing on machines without a GPU.

With ``--launcher pytorch`` (``tools/dist_train.sh``) mmengine 0.10.7 fails on
a CPU-only machine twice:

1. ``Runner.setup_env`` calls ``mmengine.dist.init_dist``, which calls
   ``torch.cuda.set_device(local_rank)`` before creating the process group;
   ``setup_env`` skips ``init_dist`` when the default process group already
   exists.
2. ``Runner.wrap_model`` builds ``MMDistributedDataParallel`` with
   ``device_ids=[LOCAL_RANK]``, which DDP rejects for a module on the CPU.

:func:`setup_cpu_distributed`, called by ``tools/train.py`` and
``tools/test.py`` before the runner is built, therefore creates the process
group itself (gloo) and selects :class:`CPUDistributedDataParallel`, which
drops ``device_ids`` for CPU modules. Both happen only when the run is
distributed and mmengine's device is the CPU (no CUDA or other accelerator),
so GPU runs are untouched, and no config change is needed.

:func:`teardown_distributed`, called by both tools after a successful run,
waits for all ranks and destroys the default process group. Without it a gloo
rank that reaches interpreter exit while its peer is still finishing (saving
the last checkpoint, say) may abort in gloo's C++ teardown ("terminate called
without an active exception", SIGABRT), and torchrun then reports the whole
run as failed although training completed.
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

#: Registry key of :class:`CPUDistributedDataParallel`, scoped so that
#: mmengine's root ``MODEL_WRAPPERS`` (used by ``Runner.wrap_model``) finds it.
CPU_DDP_TYPE = 'mmpretrain.CPUDistributedDataParallel'

# Wrapper types that `setup_cpu_distributed` may replace by the CPU one: an
# unset type means mmengine's default, MMDistributedDataParallel.
_REPLACEABLE_WRAPPERS = (None, 'MMDistributedDataParallel',
                         'mmengine.MMDistributedDataParallel',
                         MMDistributedDataParallel)


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` that also wraps modules on the CPU.

    ``Runner.wrap_model`` always passes ``device_ids=[LOCAL_RANK]``; DDP only
    accepts ``device_ids`` for modules on a single accelerator. For a module
    whose parameters live on the CPU this wrapper drops ``device_ids`` and
    ``output_device`` (CPU DDP requires None); for any other module it is
    exactly ``MMDistributedDataParallel``.

    Args:
        module (nn.Module): The model to wrap.
        device_ids (list[int], optional): Passed to DDP unless the module is
            on the CPU. Defaults to None.
        **kwargs: Other arguments of ``MMDistributedDataParallel``.
    """

    def __init__(self,
                 module: nn.Module,
                 device_ids: Optional[list] = None,
                 **kwargs) -> None:
        param = next(module.parameters(), None)
        if param is None or param.device.type == 'cpu':
            device_ids = None
            kwargs.pop('output_device', None)
        super().__init__(module=module, device_ids=device_ids, **kwargs)


def _init_gloo_process_group(cfg: Config) -> None:
    """Create the default process group from torchrun's environment.

    The backend is ``env_cfg.dist_cfg.backend`` unless it is ``'nccl'`` (the
    default of mmpretrain's runtime, GPU only), which becomes ``'gloo'``;
    ``env_cfg.dist_cfg.timeout`` (seconds) is honoured like mmengine does.
    """
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}) or {})
    backend = dist_cfg.pop('backend', 'nccl')
    if backend == 'nccl':
        backend = 'gloo'
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
        backend=backend,
        rank=int(os.environ['RANK']),
        world_size=int(os.environ['WORLD_SIZE']),
        **dist_cfg)


def setup_cpu_distributed(cfg: Config) -> bool:
    """Prepare a distributed run on the CPU; do nothing otherwise.

    Acts only when ``cfg.launcher`` is not ``'none'`` and mmengine's device
    (:func:`mmengine.device.get_device`) is ``'cpu'``. It then

    - initialises the default process group (gloo, see above) unless one
      exists, so ``Runner.setup_env`` skips ``init_dist``;
    - sets ``cfg.model_wrapper_cfg`` to :class:`CPUDistributedDataParallel`
      when the config leaves the wrapper to mmengine (no
      ``model_wrapper_cfg``, or one of type ``MMDistributedDataParallel``):
      without ``model_wrapper_cfg`` it uses mmengine's defaults
      (``broadcast_buffers=False``, ``find_unused_parameters`` from the
      config); otherwise it keeps the configured arguments. Any other wrapper
      type is left alone.

    Args:
        cfg (Config): The full config, after the command-line arguments have
            been merged (``cfg.launcher`` set). Modified in place.

    Returns:
        bool: True if the run was set up for CPU distributed, else False.

    Raises:
        ValueError: For ``launcher`` ``'slurm'`` or ``'mpi'`` on a CPU-only
            machine: mmengine initialises those with a GPU per process.
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
        _init_gloo_process_group(cfg)

    wrapper_cfg = cfg.get('model_wrapper_cfg', None)
    if wrapper_cfg is None:
        cfg.model_wrapper_cfg = dict(
            type=CPU_DDP_TYPE,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif wrapper_cfg.get('type', None) in _REPLACEABLE_WRAPPERS:
        wrapper_cfg['type'] = CPU_DDP_TYPE
    return True


def teardown_distributed() -> bool:
    """End a distributed run cleanly: barrier, then destroy the process group.

    Call it once the runner has finished and the caller has dropped its
    references to the runner (not after an exception: a barrier would then
    wait for ranks that may never arrive). It does nothing when no
    default process group exists, so single-process runs may call it too.
    Useful with every backend (torch also warns about undestroyed NCCL
    groups); needed with gloo on the CPU, see the module docstring.

    Returns:
        bool: True if a process group was destroyed, else False.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return False
    # Objects the caller dropped but that sit in reference cycles (a runner
    # and its DDP model, whose reducer holds the group) are freed now, so the
    # group's threads are joined here and not during interpreter shutdown.
    gc.collect()
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    return True


__all__ = [
    'CPUDistributedDataParallel', 'CPU_DDP_TYPE', 'setup_cpu_distributed',
    'teardown_distributed'
]
