"""The config and the run of the runner of ``tools/train.py`` and
``tools/test.py``, and test-time augmentation."""
import os.path as osp
import warnings
from copy import deepcopy
from typing import Optional

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import RUNNERS
from mmengine.runner import Runner

from ..datasets.model_inputs import pipeline_datasets, type_name
from ..engine import check_hook_args
from ..utils.cpu_distributed import setup_cpu_distributed, teardown_distributed

#: refuses a checkpoint that does not fit the model
STRICT_LOAD = dict(type='mmpretrain.StrictLoadHook')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def runner_config(config: str,
                  cfg_options: Optional[dict] = None,
                  launcher: str = 'none',
                  work_dir: Optional[str] = None,
                  pin_memory: bool = True,
                  persistent_workers: bool = True) -> Config:
    """The config of a runner, before the tool's own settings.

    ``cfg_options`` are merged first and the hook arguments checked
    (:func:`check_hook_args`); then ``launcher``, ``work_dir`` and the
    defaults of every dataloader that the config leaves unset: memory
    pinned with CUDA, persistent workers if it has workers, mmengine's
    ``default_collate``.

    Args:
        config (str): The config file.
        cfg_options (dict, optional): Merged into the config.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        work_dir (str, optional): Defaults to the config's, else
            ``./work_dirs/CONFIG``.
        pin_memory (bool): False: no dataloader pins memory.
        persistent_workers (bool): False: no dataloader keeps its workers.
    """
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(cfg_options or {})
    check_hook_args(cfg)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    for name in LOADERS:
        loader = cfg.get(name)
        if loader is not None:
            loader.setdefault('collate_fn', dict(type='default_collate'))
            loader.pin_memory = pin_memory and loader.get(
                'pin_memory', torch.cuda.is_available())
            loader.persistent_workers = persistent_workers and loader.get(
                'persistent_workers', loader.get('num_workers', 0) > 0)
    return cfg


def enable_tta(cfg: Config) -> None:
    """Wrap the model and the test pipeline for test-time augmentation."""
    if 'tta_model' not in cfg:
        cfg.tta_model = dict(type='mmpretrain.EnsembleScoreTTA')
    elif type_name(cfg.tta_model) == 'AverageClsScoreTTA':
        warnings.warn(
            f"tta_model.type={cfg.tta_model.type!r} keeps the first view's "
            'pred_label, member_logits and ensemble_logits, which the metrics '
            "then score; set tta_model.type='EnsembleScoreTTA' (the default "
            'of --tta) to merge them all')
    # an OODDataset: its OOD part keeps the in-distribution pipeline unless
    # it has its own, which then gets the flips too
    parts = pipeline_datasets(cfg.test_dataloader.dataset)
    if 'tta_pipeline' not in cfg:
        cfg.tta_pipeline = flip_tta(parts[0].pipeline)
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    parts[0].pipeline = cfg.tta_pipeline
    for part in parts[1:]:
        part.pipeline = flip_tta(part.pipeline)


def flip_tta(pipeline: list) -> list:
    """The pipeline with its last transform (packing) run on the image and
    its horizontal flip."""
    pipeline = deepcopy(pipeline)
    flips = [dict(type='RandomFlip', prob=prob) for prob in (1., 0.)]
    pipeline.append(
        dict(type='TestTimeAug', transforms=[flips, [pipeline.pop()]]))
    return pipeline


def run_runner(cfg: Config, mode: str) -> Optional[dict]:
    """Build the runner of ``cfg`` and run its ``mode`` (``'train'`` or
    ``'test'``); returns what that returns.

    A distributed run without GPU gets its gloo group and CPU DDP first
    (:func:`setup_cpu_distributed`); the group is torn down after.
    """
    setup_cpu_distributed(cfg)
    runner = (RUNNERS.build(cfg)
              if 'runner_type' in cfg else Runner.from_cfg(cfg))
    result = getattr(runner, mode)()
    del runner  # its DDP model holds the process group
    teardown_distributed()
    return result
