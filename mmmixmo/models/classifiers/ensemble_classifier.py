"""Deep ensemble: N independently trained classifiers evaluated as one."""
import copy
import re
import time
from collections import OrderedDict
from typing import List, Optional, Sequence, Union

import mmengine
import torch
from mmengine.model import ModuleList
from mmengine.runner import CheckpointLoader
from mmpretrain.models.classifiers import BaseClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..utils.ensemble_average import AVERAGES, ensemble_average
from ..utils.post_hoc_calibration import build_calibration

MERGE_TOOL = 'tools/analysis_tools/merge_ensemble_checkpoints.py'


@MODELS.register_module()
class EnsembleClassifier(BaseClassifier):
    """N independently trained classifiers (a deep ensemble), evaluation only.

    Member ``n`` contributes its ``mode='tensor'`` logits ``z_n`` (MixMo: its
    ``ensemble_logits``) on the batch normalised by the ensemble's
    ``data_preprocessor``. A state dict missing a member's ``members.<n>.``
    weights raises on loading (mmengine loads ``load_from`` non-strictly).

    Args:
        member (dict, optional): One member's config, built N times.
        num_members (int, optional): N >= 2, with ``member``.
        members (list[dict], optional): The members' configs, instead.
        average (str): ``'probs'`` (default): ``mean_n softmax(z_n)``, the
            classic deep-ensemble rule (the paper does not say how its DE
            rows average); ``'logits'``: ``softmax(mean_n z_n)``, like MixMo.
        data_preprocessor (dict, optional): Defaults to ClsDataPreprocessor.
        calibration (dict, optional): The temperature and conformal sets
            applied to the predictions (:class:`PostHocCalibration`, written
            by ``tools/calibrate.py``). Defaults to None.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 member: Optional[dict] = None,
                 num_members: Optional[int] = None,
                 members: Optional[Sequence[dict]] = None,
                 average: str = 'probs',
                 data_preprocessor: Optional[dict] = None,
                 calibration: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        calibration = build_calibration(calibration)
        if average not in AVERAGES:
            raise ValueError(f'model.average must be one of {AVERAGES}, '
                             f'got {average!r}')
        if (member is None) == (members is None):
            raise ValueError(
                'give exactly one of model.member (with model.num_members) '
                'and model.members (a list of member configs)')
        if member is not None:
            if type(num_members) is not int or num_members < 2:
                raise ValueError('model.num_members must be an int >= 2 with '
                                 f'model.member, got {num_members!r}')
            keyed = [('model.member', member)] * num_members
        elif isinstance(members, (dict, str)) or not isinstance(
                members, Sequence):
            raise TypeError('model.members must be a list of member '
                            f'configs, got {type(members).__name__}')
        elif num_members not in (None, len(members)):
            raise ValueError(f'model.num_members={num_members} does not '
                             f'match the {len(members)} configs of '
                             'model.members')
        elif len(members) < 2:
            raise ValueError('model.members must list at least 2 member '
                             f'configs, got {len(members)}')
        else:
            keyed = [(f'model.members[{i}]', c) for i, c in enumerate(members)]
        preprocessor = dict(type='ClsDataPreprocessor')
        preprocessor.update(data_preprocessor or {})
        super().__init__(init_cfg, MODELS.build(preprocessor))
        self.average = average
        self.calibration = calibration
        self.members = ModuleList(self._build(key, cfg) for key, cfg in keyed)
        classes = [getattr(m.head, 'num_classes', None) for m in self.members]
        if len({k for k in classes if k is not None}) > 1:
            raise ValueError(
                'the members of model.members must predict the same number '
                f'of classes, got head.num_classes {classes}')
        self.register_load_state_dict_pre_hook(type(self)._check_weights)

    @staticmethod
    def _build(key: str, cfg: dict) -> BaseClassifier:
        """Build one member, naming its config key on errors."""
        if not isinstance(cfg, dict):
            raise TypeError(f'{key} must be a model config dict, got '
                            f'{type(cfg).__name__}')
        member = MODELS.build(copy.deepcopy(cfg))
        if not getattr(member, 'with_head', False):
            raise TypeError(f'{key} must be a classifier with a head (e.g. '
                            'an mmpretrain ImageClassifier or a '
                            f'MixMoClassifier), got {type(member).__name__}')
        return member

    def _check_weights(self, state_dict: dict, prefix: str, *args) -> None:
        """Load pre-hook: refuse a checkpoint without weights for a member."""
        for i in range(self.num_members):
            key = f'{prefix}members.{i}.'
            if not any(k.startswith(key) for k in state_dict):
                found = sorted({k.split('.')[0] for k in state_dict})[:8]
                raise KeyError(
                    f'the checkpoint has no weights for ensemble member {i} '
                    f'(no key starting with {key!r}; top-level keys: {found})'
                    '. An EnsembleClassifier loads a checkpoint whose keys are'
                    ' members.<i>.<key>: merge the member checkpoints with '
                    f'`python {MERGE_TOOL} MEMBER0.pth MEMBER1.pth ... --out '
                    'merged.pth`')

    @property
    def num_members(self) -> int:
        """Number of members N."""
        return len(self.members)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor') -> Union[Tensor, List[DataSample]]:
        """Member logits (B, N, K) for ``'tensor'``; ``'loss'`` raises."""
        if mode == 'tensor':
            return self.member_logits(inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode != 'loss':
            raise RuntimeError(f'Invalid mode "{mode}".')
        raise RuntimeError(
            'EnsembleClassifier is evaluation-only: train each member '
            'separately with its single-network config and a different seed '
            '(tools/train.py MEMBER_CONFIG --cfg-options randomness.seed=1), '
            f'merge the checkpoints with {MERGE_TOOL} and test the ensemble')

    def extract_feat(self, inputs: Tensor, stage: str = 'neck') -> tuple:
        """Each member's ``extract_feat(inputs, stage)``, in a tuple."""
        return tuple(m.extract_feat(inputs, stage=stage) for m in self.members)

    def member_logits(self, inputs: Tensor) -> Tensor:
        """Float32 member logits (B, N, K), multi-head members' ensembles."""
        logits = []
        for member in self.members:
            z = member(inputs, mode='tensor').float()
            if z.dim() == 3:  # (B, M, K): its heads, averaged as it predicts
                z = ensemble_average(z, member.head.average)[1]
            logits.append(z)
        return torch.stack(logits, dim=1)

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None) -> list:
        """Predictions plus ``member_logits`` (N, K) and ``ensemble_logits``,
        calibrated by ``calibration``."""
        member_logits = self.member_logits(inputs).detach()
        scores, logits = ensemble_average(member_logits, self.average)
        if data_samples is None:
            data_samples = [DataSample() for _ in range(len(scores))]
        for sample, score, heads, ens in zip(data_samples, scores,
                                             member_logits, logits):
            sample.set_pred_score(score).set_pred_label(score.argmax(0, True))
            sample.set_field(heads, 'member_logits')
            sample.set_field(ens, 'ensemble_logits')
        if self.calibration is None:
            return data_samples
        return self.calibration.calibrate_samples(data_samples)


def merge_ensemble_checkpoints(checkpoints: Sequence) -> dict:
    """Member ``n``'s weights under ``members.<n>.``, and a plain ``meta``.

    ``checkpoints``: mmengine checkpoints or bare state dicts (paths or
    loaded), in member order. The meta lists each member's path (or
    ``member<n>``), epoch, iter, seed and experiment_name when recorded.
    """
    state_dict, members, datasets = OrderedDict(), [], []
    for i, ckpt in enumerate(checkpoints):
        name = ckpt if isinstance(ckpt, str) else f'member{i}'
        if isinstance(ckpt, str):
            ckpt = CheckpointLoader.load_checkpoint(ckpt, map_location='cpu')
        weights = isinstance(ckpt, dict) and ckpt.get('state_dict', ckpt)
        if not isinstance(weights, dict) or not weights or not all(
                isinstance(v, torch.Tensor) for v in weights.values()):
            raise ValueError(f'{name}: no state dict of tensors found '
                             "(expected an mmengine checkpoint with a "
                             "'state_dict' entry or a bare state dict)")
        for key, value in weights.items():
            state_dict[f'members.{i}.' + re.sub(r'^module\.', '', key)] = value
        meta = ckpt['meta'] if isinstance(ckpt.get('meta'), dict) else {}
        members.append(dict(checkpoint=name))
        for key in ('epoch', 'iter', 'seed', 'experiment_name'):
            if isinstance(meta.get(key), (bool, int, float, str)):
                members[-1][key] = meta[key]
        if meta.get('dataset_meta') is not None:
            datasets.append((name, meta['dataset_meta']))
    for name, dataset_meta in datasets[1:]:
        if dataset_meta != datasets[0][1]:
            raise ValueError(
                'the members were trained on different data sets: '
                f'dataset_meta of {datasets[0][0]} is {datasets[0][1]!r}, of '
                f'{name} is {dataset_meta!r}')
    meta = dict(
        ensemble=dict(num_members=len(members), members=members),
        mmengine_version=mmengine.__version__,
        time=time.strftime('%Y%m%d_%H%M%S', time.localtime()))
    if datasets:
        meta['dataset_meta'] = datasets[0][1]
    return dict(meta=meta, state_dict=state_dict)
