"""Post-hoc calibration: a temperature and split-conformal prediction sets."""
import math
from numbers import Real
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch import Tensor

from ...evaluation.functional.calibration import ensemble_logits_from_probs
from ...evaluation.functional.conformal import (CONFORMAL_SCORES,
                                                prediction_sets)


class PostHocCalibration:
    """The temperature and conformal sets fitted after training.

    ``tools/calibrate.py`` fits them on a held-out split and writes them as
    ``model.calibration`` (and in the checkpoint's ``meta``); MixMo models,
    deep ensembles and single networks (``VanillaClassifier``) apply them to
    every prediction: the scores become ``softmax(z / T)``, ``z`` the
    ensemble logits, and with ``conformal`` each prediction gets the set of
    classes whose score is at most the calibrated threshold.

    Args:
        temperature (float): ``T > 0``. Defaults to 1.
        conformal (dict, optional): ``score`` (``'lac'``, ``'aps'`` or
            ``'raps'``), ``alpha`` (the miscoverage level it was calibrated
            for), ``threshold``, and for RAPS ``k_reg`` and ``lam`` (see
            :func:`~mmmixmo.evaluation.functional.conformal_scores`); other
            keys (e.g. ``num_samples``) are kept as a record. Defaults to
            None: no sets.
        key (str): The config key, for the error messages. Defaults to
            ``'model.calibration'``.
    """

    def __init__(self,
                 temperature: float = 1.0,
                 conformal: Optional[dict] = None,
                 key: str = 'model.calibration') -> None:
        if isinstance(temperature, bool) or not isinstance(
                temperature, Real) or not 0 < temperature < math.inf:
            raise ValueError(f'{key}.temperature must be a number > 0, got '
                             f'{temperature!r}')
        self.temperature = float(temperature)
        self.conformal = None
        if conformal is None:
            return
        conformal = dict(conformal)
        conformal.setdefault('k_reg', 0)
        conformal.setdefault('lam', 0.0)
        checks = (
            ('score', conformal.get('score') in CONFORMAL_SCORES,
             f'one of {CONFORMAL_SCORES}'),
            ('alpha', _number(conformal.get('alpha'))
             and 0 < conformal['alpha'] < 1, 'a number in (0, 1)'),
            ('threshold', _number(conformal.get('threshold')),
             'a finite number'),
            ('k_reg', type(conformal['k_reg']) is int
             and conformal['k_reg'] >= 0, 'an int >= 0'),
            ('lam', _number(conformal['lam']) and conformal['lam'] >= 0,
             'a number >= 0'),
        )
        for name, valid, want in checks:
            if not valid:
                raise ValueError(f'{key}.conformal.{name} must be {want}, '
                                 f'got {conformal.get(name)!r}')
        self.conformal = conformal

    def to_dict(self) -> dict:
        """The config that builds this calibration."""
        return dict(temperature=self.temperature, conformal=self.conformal)

    def __call__(self, logits: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
        """Calibrate ensemble logits.

        Args:
            logits (Tensor): Ensemble logits ``(B, K)`` (the logits whose
                softmax the model's scores are).

        Returns:
            tuple[Tensor, Tensor | None]: The calibrated logits ``z / T``
            ``(B, K)`` and, with ``conformal``, the sets ``(B, K)`` bool.
        """
        logits = logits / self.temperature
        if self.conformal is None:
            return logits, None
        cfg = self.conformal
        sets = prediction_sets(
            F.softmax(logits, dim=1), cfg['threshold'], cfg['score'],
            cfg['k_reg'], cfg['lam'])
        return logits, sets

    def calibrate_samples(self,
                          samples: List[DataSample]) -> List[DataSample]:
        """Apply the calibration to predicted samples, in place.

        Every sample's ``ensemble_logits`` (else ``log(pred_score)``) are
        divided by the temperature; ``pred_score`` becomes their softmax
        (``pred_label`` is unchanged), ``temperature`` records ``T`` and,
        with ``conformal``, ``pred_set`` is the set ``(K, )`` bool.
        """
        logits = torch.stack([
            s.ensemble_logits if 'ensemble_logits' in s else
            ensemble_logits_from_probs(s.pred_score) for s in samples
        ]).double()
        logits, sets = self(logits)
        scores = F.softmax(logits, dim=1).float()
        for i, sample in enumerate(samples):
            sample.set_pred_score(scores[i])
            sample.set_field(logits[i], 'ensemble_logits')
            sample.set_field(self.temperature, 'temperature',
                             field_type='metainfo')
            if sets is not None:
                sample.set_field(sets[i], 'pred_set')
        return samples


def _number(value) -> bool:
    """A finite real number, not a bool."""
    return (isinstance(value, Real) and not isinstance(value, bool)
            and math.isfinite(value))


def build_calibration(cfg: Optional[dict],
                      key: str = 'model.calibration'
                      ) -> Optional[PostHocCalibration]:
    """``PostHocCalibration(**cfg)``, None for None; errors name ``key``."""
    if cfg is None:
        return None
    if not isinstance(cfg, dict) or set(cfg) - {'temperature', 'conformal'}:
        raise ValueError(f'{key} must be None or a dict with temperature and '
                         f'conformal, got {cfg!r}')
    return PostHocCalibration(**cfg, key=key)
