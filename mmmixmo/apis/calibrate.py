"""Fit a trained model's temperature and conformal sets on a held-out split
and write the calibrated config and checkpoint."""
import copy
import inspect
import logging
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, save_checkpoint
from mmpretrain.registry import MODELS
from torch import Tensor

from ..datasets.model_inputs import type_name
from ..evaluation.functional.calibration import (ensemble_logits_from_probs,
                                                 expected_calibration_error,
                                                 fit_temperature,
                                                 temperature_scaled_nll)
from ..evaluation.functional.conformal import (conformal_scores,
                                               conformal_threshold)
from ..models.utils.post_hoc_calibration import build_calibration
from ..utils.checkpoint_loading import load_checkpoint_checked
from ..utils.config import build_model, load_config

#: the single-network classifier that reads ``model.calibration``
VANILLA = 'VanillaClassifier'


def fit_calibration(logits: Tensor,
                    labels: Tensor,
                    temperature: bool = True,
                    conformal: Optional[str] = None,
                    alpha: float = 0.1,
                    k_reg: int = 0,
                    lam: float = 0.0) -> dict:
    """The temperature and conformal threshold of held-out predictions.

    The temperature minimises the NLL (:func:`fit_temperature`); the
    conformal threshold is calibrated on the temperature-scaled
    probabilities of the same samples (as Angelopoulos et al., 2021 do).

    Args:
        logits (Tensor): Ensemble logits ``(N, K)``, float64.
        labels (Tensor): Class indices ``(N, )``.
        temperature (bool): Fit the temperature, else keep 1. Defaults to
            True.
        conformal (str, optional): ``'lac'``, ``'aps'`` or ``'raps'``.
            Defaults to None: no sets.
        alpha (float): Miscoverage level of the sets. Defaults to 0.1.
        k_reg (int): RAPS ``k_reg``. Defaults to 0.
        lam (float): RAPS ``lam``. Defaults to 0.

    Returns:
        dict: ``model.calibration``: ``temperature`` and ``conformal``
        (``score``, ``alpha``, ``threshold``, ``k_reg``, ``lam``,
        ``num_samples``) or None.
    """
    temp = fit_temperature(logits, labels) if temperature else 1.0
    cal = dict(temperature=temp, conformal=None)
    if conformal is not None:
        scores = conformal_scores(
            F.softmax(logits / temp, dim=1), conformal, k_reg, lam)
        threshold = conformal_threshold(
            scores.gather(1, labels[:, None]).squeeze(1), alpha)
        cal['conformal'] = dict(
            score=conformal, alpha=alpha, threshold=threshold,
            k_reg=k_reg if conformal == 'raps' else 0,
            lam=lam if conformal == 'raps' else 0.0,
            num_samples=labels.numel())
    # the form the model stores, to compare with checkpoints' meta
    return build_calibration(cal).to_dict()


def calibration_figures(logits: Tensor, labels: Tensor,
                        calibration: dict) -> Dict[str, float]:
    """NLL and ECE before and after the temperature, and the sets' coverage
    and mean size, on the samples the calibration was fitted on."""
    model_cal = build_calibration(calibration)
    scaled, sets = model_cal(logits)
    figures = dict(
        nll=temperature_scaled_nll(logits, labels, 1.0),
        ece=expected_calibration_error(F.softmax(logits, dim=1), labels),
        nll_calibrated=temperature_scaled_nll(scaled, labels, 1.0),
        ece_calibrated=expected_calibration_error(
            F.softmax(scaled, dim=1), labels))
    if sets is not None:
        figures.update(
            coverage=float(sets.gather(1, labels[:, None]).float().mean()),
            set_size=float(sets.sum(1).float().mean()))
    return figures


def collect_logits(cfg: Config, checkpoint: str,
                   device: str = 'cpu') -> Tuple[Tensor, Tensor, dict]:
    """The uncalibrated ensemble logits of the calibration split.

    The split is the config's ``calibration_dataloader``, else its
    ``val_dataloader``.

    Returns:
        tuple[Tensor, Tensor, dict]: Logits ``(N, K)`` float64, labels
        ``(N, )`` and the loaded checkpoint.
    """
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model = build_model(cfg)
    loaded = load_checkpoint_checked(
        model, checkpoint, cfg.filename or 'the given config',
        hint='tools/calibrate.py loads strictly: a calibration of a partly '
        'loaded model is not the model\'s')
    model.calibration = None  # fit on the raw predictions
    model.to(device).eval()
    loader = Runner.build_dataloader(
        cfg.get('calibration_dataloader') or cfg.val_dataloader)
    logits, labels = [], []
    with torch.no_grad():
        for i, batch in enumerate(loader):
            for sample in model.test_step(batch):
                logits.append(
                    sample.ensemble_logits.double().cpu()
                    if 'ensemble_logits' in sample else
                    ensemble_logits_from_probs(sample.pred_score).cpu())
                labels.append(sample.gt_label.cpu())
            if (i + 1) % 50 == 0:
                print_log(f'calibration split: {len(labels)} images',
                          logger='current')
    split = ('calibration_dataloader' if cfg.get('calibration_dataloader')
             else 'val_dataloader')
    if not logits:
        raise ValueError(f'{split}: the calibration split has no images')
    logits = torch.stack(logits)
    bad = int((~torch.isfinite(logits).all(dim=1)).sum())
    if bad:
        raise ValueError(
            f'checkpoint {checkpoint!r} predicts NaN or inf logits on {bad} '
            f'of the {len(logits)} images of {split}: a temperature fitted '
            'on them would be meaningless (a diverged model?)')
    return logits, torch.cat(labels), loaded


def calibrated_config(cfg: Config, calibration: dict) -> Config:
    """A copy of ``cfg`` whose model applies ``calibration``.

    mmpretrain's ``ImageClassifier`` becomes :class:`VanillaClassifier`
    (same weights); a model type without ``calibration`` raises. With
    conformal sets, the test evaluator also gets ``ConformalMetric``.
    """
    cfg = copy.deepcopy(cfg)
    kind = cfg.model.type
    if type_name(cfg.model) == 'ImageClassifier':
        cfg.model.type = VANILLA
    elif 'calibration' not in inspect.signature(
            MODELS.get(kind).__init__).parameters:
        raise ValueError(
            f'model.type={kind!r} takes no calibration: calibrate a '
            f'MixMoClassifier, EnsembleClassifier, {VANILLA} or '
            'ImageClassifier')
    cfg.model.calibration = calibration
    evaluator = cfg.get('test_evaluator')
    if (calibration or {}).get('conformal') and evaluator is not None:
        metrics = evaluator if isinstance(evaluator, list) else [evaluator]
        if not any('ConformalMetric' in str(m.get('type')) for m in metrics):
            cfg.test_evaluator = [*metrics, dict(type='ConformalMetric')]
    return cfg


def calibrate_checkpoint(config: str,
                         checkpoint: str,
                         out: str,
                         cfg_options: Optional[dict] = None,
                         device: str = 'cpu',
                         **fit_args) -> dict:
    """Calibrate a checkpoint and write ``out``.py and ``out``.pth.

    The config's model gets ``calibration`` (see :func:`calibrated_config`)
    and ``load_from`` the new checkpoint, whose ``meta['calibration']``
    records the same dict; the weights are the checkpoint's.

    Args:
        config (str): The config the checkpoint was trained with.
        checkpoint (str): The checkpoint, loaded strictly.
        out (str): The root of the files to write.
        cfg_options (dict, optional): Merged into the config.
        device (str): Device of the forward passes. Defaults to 'cpu'.
        **fit_args: Of :func:`fit_calibration`.

    Returns:
        dict: ``calibration``, the ``figures`` of
        :func:`calibration_figures` and ``num_samples``.
    """
    cfg = load_config(config, cfg_options)
    calibrated_config(cfg, None)  # refuse a model type early
    split = cfg.get('calibration_dataloader') or cfg.get('val_dataloader')
    if not split:
        raise ValueError(f'{config}: no calibration_dataloader nor '
                         'val_dataloader to calibrate on')
    if cfg.get('test_dataloader') and \
            split.get('dataset') == cfg.test_dataloader.get('dataset'):
        print_log(
            'the calibration split is the test split (calibration_dataloader '
            'or else val_dataloader has the dataset of test_dataloader): '
            'the calibrated test scores are optimistic; set '
            'calibration_dataloader to a held-out split',
            logger='current', level=logging.WARNING)
    logits, labels, loaded = collect_logits(cfg, checkpoint, device)
    calibration = fit_calibration(logits, labels, **fit_args)
    figures = calibration_figures(logits, labels, calibration)
    out_cfg = calibrated_config(cfg, calibration)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    out_cfg.load_from = osp.abspath(out + '.pth')
    out_cfg.dump(out + '.py')
    meta = dict(loaded.get('meta') or {}, calibration=calibration)
    save_checkpoint(
        dict(meta=meta, state_dict=loaded.get('state_dict', loaded)),
        out + '.pth')
    return dict(calibration=calibration, figures=figures,
                num_samples=labels.numel())
