import datetime
import socket

import pytest
import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS
from torch import nn

from mmmixmo.utils import (CPU_DDP_TYPE, CPUDistributedDataParallel,
                           cpu_distributed, setup_cpu_distributed,
                           teardown_distributed)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture
def torchrun_env(monkeypatch):
    """The environment torchrun gives a 1-process job; cleans the group up."""
    assert not torch_dist.is_initialized()
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setenv('WORLD_SIZE', '1')
    monkeypatch.setenv('MASTER_ADDR', '127.0.0.1')
    monkeypatch.setenv('MASTER_PORT', str(_free_port()))
    yield
    if torch_dist.is_initialized():
        torch_dist.destroy_process_group()


def _cfg(**kwargs) -> Config:
    cfg = dict(
        launcher='pytorch',
        env_cfg=dict(dist_cfg=dict(backend='nccl')),
        model=dict(type='ImageClassifier'))
    cfg.update(kwargs)
    return Config(cfg)


@pytest.mark.parametrize('launcher,device', [('none', 'cpu'),
                                             ('pytorch', 'cuda')])
def test_nothing_without_launcher_or_on_gpu(torchrun_env, monkeypatch,
                                            launcher, device):
    monkeypatch.setattr(cpu_distributed, 'get_device', lambda: device)
    cfg = _cfg(launcher=launcher)
    assert setup_cpu_distributed(cfg) is False
    assert not torch_dist.is_initialized()
    assert 'model_wrapper_cfg' not in cfg


def test_cpu_run_gets_gloo_and_cpu_ddp(torchrun_env):
    if torch.cuda.is_available():
        pytest.skip('the CPU path is only taken without CUDA')
    cfg = _cfg(find_unused_parameters=True)
    cfg.env_cfg.dist_cfg.timeout = 60
    assert setup_cpu_distributed(cfg) is True
    assert torch_dist.is_initialized()
    assert torch_dist.get_backend() == 'gloo'
    assert torch_dist.get_world_size() == 1
    assert cfg.model_wrapper_cfg == dict(
        type=CPU_DDP_TYPE,
        broadcast_buffers=False,
        find_unused_parameters=True)
    # A second call (e.g. tools calling it again) keeps the group.
    group = torch_dist.group.WORLD
    assert setup_cpu_distributed(_cfg()) is True
    assert torch_dist.group.WORLD is group

    # What Runner.wrap_model does with the config: mmengine's root registry
    # finds the wrapper and passes device_ids=[LOCAL_RANK].
    assert MODEL_WRAPPERS.get(CPU_DDP_TYPE) is CPUDistributedDataParallel
    model = nn.Linear(4, 3)
    wrapped = MODEL_WRAPPERS.build(
        cfg.model_wrapper_cfg, default_args=dict(module=model, device_ids=[0]))
    assert isinstance(wrapped, MMDistributedDataParallel)
    assert wrapped.device_ids is None
    assert wrapped.find_unused_parameters is True
    out = wrapped(torch.ones(2, 4))
    torch.testing.assert_close(out, model(torch.ones(2, 4)))
    # mmengine's own wrapper refuses the CPU module with device_ids.
    with pytest.raises(ValueError, match='device_ids'):
        MMDistributedDataParallel(module=nn.Linear(4, 3), device_ids=[0])


def test_teardown_waits_for_all_ranks_then_destroys(torchrun_env,
                                                    monkeypatch):
    assert teardown_distributed() is False  # no group: nothing to do
    torch_dist.init_process_group(backend='gloo', rank=0, world_size=1)
    calls = []
    barrier = torch_dist.barrier
    monkeypatch.setattr(cpu_distributed.torch_dist, 'barrier',
                        lambda: calls.append('barrier') or barrier())
    assert teardown_distributed() is True
    assert calls == ['barrier']
    assert not torch_dist.is_initialized()
    assert teardown_distributed() is False


def test_timeout_and_backend_passed_to_torch(torchrun_env, monkeypatch):
    calls = []
    monkeypatch.setattr(cpu_distributed, 'get_device', lambda: 'cpu')
    monkeypatch.setattr(cpu_distributed.torch_dist, 'init_process_group',
                        lambda **kwargs: calls.append(kwargs))
    cfg = _cfg()
    cfg.env_cfg.dist_cfg.timeout = 90
    setup_cpu_distributed(cfg)
    assert calls == [
        dict(
            backend='gloo',
            rank=0,
            world_size=1,
            timeout=datetime.timedelta(seconds=90))
    ]
    calls.clear()
    setup_cpu_distributed(_cfg(env_cfg=dict(dist_cfg=dict(backend='mpi'))))
    assert calls[0]['backend'] == 'mpi'


@pytest.mark.parametrize('wrapper_type', [None, 'MMDistributedDataParallel'])
def test_mmengine_wrapper_cfg_keeps_its_arguments(torchrun_env, wrapper_type,
                                                  monkeypatch):
    monkeypatch.setattr(cpu_distributed, 'get_device', lambda: 'cpu')
    wrapper = dict(find_unused_parameters=True, broadcast_buffers=True)
    if wrapper_type is not None:
        wrapper['type'] = wrapper_type
    cfg = _cfg(model_wrapper_cfg=wrapper)
    setup_cpu_distributed(cfg)
    assert cfg.model_wrapper_cfg == dict(
        type=CPU_DDP_TYPE, find_unused_parameters=True, broadcast_buffers=True)


def test_other_wrapper_left_alone(torchrun_env, monkeypatch):
    monkeypatch.setattr(cpu_distributed, 'get_device', lambda: 'cpu')
    cfg = _cfg(model_wrapper_cfg=dict(type='MMFullyShardedDataParallel'))
    assert setup_cpu_distributed(cfg) is True
    assert cfg.model_wrapper_cfg == dict(type='MMFullyShardedDataParallel')


def test_cpu_errors(torchrun_env, monkeypatch):
    monkeypatch.setattr(cpu_distributed, 'get_device', lambda: 'cpu')
    with pytest.raises(ValueError, match="launcher='slurm' needs a GPU"):
        setup_cpu_distributed(_cfg(launcher='slurm'))
    monkeypatch.delenv('MASTER_PORT')
    monkeypatch.delenv('RANK')
    with pytest.raises(RuntimeError, match='missing RANK, MASTER_PORT'):
        setup_cpu_distributed(_cfg())
    assert not torch_dist.is_initialized()


def test_wrapper_keeps_device_ids_off_cpu(monkeypatch):
    captured = {}

    def fake_init(self, module, device_ids=None, **kwargs):
        captured.update(device_ids=device_ids, **kwargs)

    monkeypatch.setattr(MMDistributedDataParallel, '__init__', fake_init)
    module = nn.Linear(2, 2)
    CPUDistributedDataParallel(module, device_ids=[0], output_device=0)
    assert captured == dict(device_ids=None)
    # A module on another device (here 'meta') keeps what mmengine passes.
    captured.clear()
    CPUDistributedDataParallel(
        module.to('meta'), device_ids=[1], output_device=1)
    assert captured == dict(device_ids=[1], output_device=1)
