"""A test hook for tools/ runs: exact losses and metrics, and a kill -9.

Load it into a ``tools/train.py`` run with ``PYTHONPATH=<repository>`` and
``--cfg-options custom_imports.imports=[mmmixmo,tests.utils.resume_probe]
default_hooks.probe.type=ResumeProbeHook default_hooks.probe.out_dir=DIR``.
"""
import json
import os
import os.path as osp
import signal
from typing import Dict, List, Optional

from mmengine.dist import barrier, get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS


@HOOKS.register_module()
class ResumeProbeHook(Hook):
    """Append every training loss and validation metric, exactly, to files;
    optionally SIGKILL the process after an epoch's checkpoint.

    Rank ``r`` appends ``epoch iter repr(loss)`` per iteration to
    ``out_dir/losses_rank{r}.txt`` and one JSON line of metrics per
    validation (floats as ``repr`` strings) to ``out_dir/metrics_rank{r}
    .jsonl``.

    Args:
        out_dir (str): Folder of the files (created).
        kill_after_epoch (int, optional): After this epoch (1-indexed) has
            been saved, every rank meets the others and kills itself with
            SIGKILL, as ``kill -9`` would. Defaults to None (no kill).
    """

    priority = 'LOWEST'  # after_train_epoch after CheckpointHook's save

    def __init__(self,
                 out_dir: str,
                 kill_after_epoch: Optional[int] = None) -> None:
        self.out_dir = out_dir
        self.kill_after_epoch = kill_after_epoch
        os.makedirs(out_dir, exist_ok=True)

    def _append(self, name: str, line: str) -> None:
        path = osp.join(self.out_dir, name.format(rank=get_rank()))
        with open(path, 'a') as f:
            f.write(line + '\n')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        loss = float(outputs['loss'])
        self._append('losses_rank{rank}.txt',
                     f'{runner.epoch + 1} {runner.iter + 1} {loss!r}')

    def after_val_epoch(self, runner, metrics: Optional[Dict] = None) -> None:
        self._append(
            'metrics_rank{rank}.jsonl',
            json.dumps({k: repr(float(v))
                        for k, v in sorted((metrics or {}).items())}))

    def after_train_epoch(self, runner) -> None:
        if self.kill_after_epoch == runner.epoch + 1:
            barrier()  # rank 0 has written the checkpoint
            os.kill(os.getpid(), signal.SIGKILL)


def read_losses(out_dir: str, rank: int = 0) -> List[str]:
    """The ``epoch iter loss`` lines that rank ``rank`` wrote."""
    with open(osp.join(out_dir, f'losses_rank{rank}.txt')) as f:
        return f.read().split('\n')[:-1]


def read_metrics(out_dir: str, rank: int = 0) -> List[dict]:
    """The validation metrics (``repr`` strings) that rank ``rank`` wrote."""
    with open(osp.join(out_dir, f'metrics_rank{rank}.jsonl')) as f:
        return [json.loads(line) for line in f]
