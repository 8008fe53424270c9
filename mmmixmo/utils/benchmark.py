"""Helpers of the benchmark scripts in ``tools/analysis_tools/``: timing,
peak memory, the hardware line and the report's table."""
import argparse
import math
import os
import platform
import statistics
import time
from functools import partial
from itertools import accumulate
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from torch import nn

from .config import build_model, load_config, model_config  # noqa: F401


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


def build_mixmo(cfg: Config, seed: int) -> Tuple[nn.Module, dict]:
    """The ``MixMoClassifier`` of ``cfg`` with random weights of ``seed``,
    and its :func:`model_config`."""
    torch.manual_seed(seed)
    return build_model(cfg, 'the benchmark'), model_config(cfg)


def num_params(module: nn.Module) -> int:
    """The number of parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def timed(fn: Callable[[], object],
          iters: int = 1,
          device: Optional[torch.device] = None) -> float:
    """Seconds per call over ``iters`` consecutive calls of ``fn``; on CUDA
    synchronised before and after."""
    cuda = device is not None and torch.device(device).type == 'cuda'
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync()
    return (time.perf_counter() - start) / iters


def interleaved(runs: Dict[str, Callable[[], float]],
                repeats: int) -> Dict[str, List[float]]:
    """The figures of ``repeats`` calls of every run, the order of the runs
    reversed every other repeat (drifts of a shared machine hit all)."""
    times = {name: [] for name in runs}
    for repeat in range(repeats):
        for name in (list(runs) if repeat % 2 == 0 else list(runs)[::-1]):
            times[name].append(runs[name]())
    return times


def time_interleaved(
        fns: Dict[str, Callable[[], object]],
        repeats: int,
        iters: Optional[int] = 1,
        warmup: int = 0,
        min_time: float = 0.0,
        device: Optional[torch.device] = None
) -> Tuple[Dict[str, List[float]], int]:
    """Seconds per call of each function in ``repeats`` repeats of
    ``iters`` calls, interleaved (:func:`interleaved`), after ``warmup``
    untimed calls of each.

    Args:
        fns (dict[str, Callable]): The functions by name.
        repeats (int): Timed repeats of each.
        iters (int, optional): Calls per repeat; None: enough for
            ``min_time`` seconds at the slowest warm-up call (1 without
            warm-up). Defaults to 1.
        warmup (int): Untimed calls of each function first. Defaults to 0.
        min_time (float): See ``iters``. Defaults to 0.
        device (torch.device, optional): Synchronised if CUDA.

    Returns:
        tuple[dict[str, list[float]], int]: The seconds per call of each
        repeat by name, and the calls per repeat.
    """
    warm = [timed(fn, 1, device) for fn in fns.values() for _ in range(warmup)]
    if iters is None:
        slowest = max(warm, default=0.0)
        iters = max(1, math.ceil(min_time / slowest)) if slowest else 1
    runs = {name: partial(timed, fn, iters, device)
            for name, fn in fns.items()}
    return interleaved(runs, repeats), iters


def median_ratio(numerators: Sequence[float],
                 denominators: Sequence[float]) -> float:
    """The median of the ratios of the pairs (of the same repeat)."""
    return statistics.median(
        a / b for a, b in zip(numerators, denominators, strict=True))


def peak_mib(fn: Callable[[], object], device: torch.device) -> float:
    """Peak of the tensor memory one call of ``fn`` allocates on top of what
    exists (activations, gradients, temporaries; not the allocator's
    cache), in MiB."""
    if torch.device(device).type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        fn()
        return (torch.cuda.max_memory_allocated(device) - start) / 2**20
    with torch.profiler.profile(profile_memory=True) as prof:
        fn()
    events = sorted((e for e in prof.profiler.kineto_results.events()
                     if e.name() == '[memory]'
                     and e.device_type() == torch.autograd.DeviceType.CPU),
                    key=lambda e: e.start_ns())
    return max(accumulate((e.nbytes() for e in events), initial=0)) / 2**20


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


def format_table(columns: Sequence[str],
                 rows: List[Sequence[str]],
                 left: int = 2,
                 markdown: bool = True) -> str:
    """A Markdown table, the first ``left`` columns left-aligned, the others
    right-aligned; ``markdown=False``: the columns aligned, two spaces apart,
    no rules."""
    cells = [tuple(columns)] + [tuple(row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = [[c.ljust(w) if i < left else c.rjust(w)
              for i, (c, w) in enumerate(zip(row, widths))] for row in cells]
    if not markdown:
        return '\n'.join('  '.join(line).rstrip() for line in lines)
    lines = ['| ' + ' | '.join(line) + ' |' for line in lines]
    lines.insert(1, '|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    return '\n'.join(lines)
