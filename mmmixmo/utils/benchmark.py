"""Helpers of the benchmark scripts in ``tools/analysis_tools/``."""
import argparse
import copy
import os
import platform
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from torch import nn


def positive_int(text: str) -> int:
    """An argparse type: an int >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be >= 1, got {value}')
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite float > 0."""
    value = float(text)
    if not 0 < value < float('inf'):
        raise argparse.ArgumentTypeError(
            f'must be a finite number > 0, got {value}')
    return value


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config at ``path`` (or ``package::path``) with the overrides,
    its default scope set."""
    cfg = get_config(path) if '::' in path else Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def build_mixmo(cfg: Config, seed: int) -> Tuple[nn.Module, dict]:
    """The ``MixMoClassifier`` of ``cfg`` with random weights of ``seed``,
    and its config (with the top-level ``data_preprocessor`` as the runner
    gives it)."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    torch.manual_seed(seed)
    model = MODELS.build(model_cfg)
    from mmmixmo.models.classifiers import MixMoClassifier
    if not isinstance(model, MixMoClassifier):
        raise ValueError(f'model.type={model_cfg.type!r}: the benchmark '
                         'needs a MixMoClassifier config (configs/mixmo/)')
    return model, model_cfg


def interleaved(runs: Dict[str, Callable[[], float]],
                repeats: int) -> Dict[str, List[float]]:
    """The figures of ``repeats`` calls of every run, the order of the runs
    reversed every other repeat (drifts of a shared machine hit all)."""
    times = {name: [] for name in runs}
    for repeat in range(repeats):
        for name in (list(runs) if repeat % 2 == 0 else list(runs)[::-1]):
            times[name].append(runs[name]())
    return times


def hardware_line(device: torch.device) -> str:
    """CPU (and GPU) model, cores and torch version of a report."""
    cpu = platform.processor() or platform.machine()
    if os.path.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            cpu = next((line.split(':', 1)[1].strip()
                        for line in f if line.startswith('model name')), cpu)
    line = (f'Hardware: CPU {cpu}, {os.cpu_count()} logical cores '
            f'({len(os.sched_getaffinity(0))} usable), torch '
            f'{torch.__version__}, {torch.get_num_threads()} intra-op threads')
    if device.type == 'cuda':
        line += (f', GPU {torch.cuda.get_device_name(device)}, CUDA '
                 f'{torch.version.cuda}, cudnn '
                 f'{torch.backends.cudnn.version()}')
    return line


def format_table(columns: Sequence[str], rows: List[Sequence[str]],
                 left: int = 2) -> str:
    """A Markdown table, the first ``left`` columns left-aligned."""
    cells = [tuple(columns)] + [tuple(row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = ['| ' + ' | '.join(c.ljust(w) if i < left else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths)))
             + ' |' for row in cells]
    lines.insert(1, '|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    return '\n'.join(lines)
