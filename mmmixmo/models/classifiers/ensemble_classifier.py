"""Deep ensemble: N independently trained classifiers evaluated as one."""
import copy
import math
from typing import Any, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.model import ModuleList
from mmpretrain.models.classifiers import BaseClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

#: The prediction rules of :class:`EnsembleClassifier`.
AVERAGES = ('probs', 'logits')

MERGE_TOOL = 'tools/analysis_tools/merge_ensemble_checkpoints.py'


def _build_member(cfg: Union[dict, nn.Module], key: str) -> nn.Module:
    """Build one member classifier, naming its config key on errors."""
    if isinstance(cfg, nn.Module):
        member = cfg
    elif isinstance(cfg, dict):
        try:
            member = MODELS.build(copy.deepcopy(cfg))
        except KeyError as err:
            if 'not in the' in str(err) and 'registry' in str(err):
                raise KeyError(
                    f'{key}.type={cfg.get("type")!r} is not a registered '
                    f'model type (did you `import mmmixmo`?): {err}') from err
            raise
    else:
        raise TypeError(f'{key} must be a model config dict, got '
                        f'{type(cfg).__name__}')
    if not getattr(member, 'with_head', False):
        raise TypeError(
            f'{key} must be a classifier with a head (e.g. an mmpretrain '
            f'ImageClassifier or a MixMoClassifier), got '
            f'{type(member).__name__}')
    return member


def _check_member_weights(module: 'EnsembleClassifier', state_dict: dict,
                          prefix: str, *args: Any) -> None:
    """Load pre-hook: refuse a checkpoint that has no weights for a member.

    mmengine's runner loads ``load_from`` with ``strict=False``, which only
    warns about missing keys: a member checkpoint passed instead of a merged
    one would otherwise be evaluated with randomly initialised members.
    """
    for i in range(len(module.members)):
        member_prefix = f'{prefix}members.{i}.'
        if not any(key.startswith(member_prefix) for key in state_dict):
            found = sorted({key.split('.')[0] for key in state_dict})
            raise KeyError(
                f'the checkpoint has no weights for ensemble member {i} (no '
                f'key starting with {member_prefix!r}; top-level keys: '
                f'{found[:8]}). An EnsembleClassifier loads a checkpoint '
                f'whose keys are members.<i>.<key>: merge the member '
                f'checkpoints with `python {MERGE_TOOL} MEMBER0.pth '
                f'MEMBER1.pth ... --out merged.pth`')


@MODELS.register_module()
class EnsembleClassifier(BaseClassifier):
    """An ensemble of N independently trained classifiers (deep ensemble).

    The paper's "Deep Ensembles" rows (DE of 2 WRN-28-10, with and without
    CutMix; 4 PreActResNet-18 on Tiny ImageNet) are N networks trained
    separately with different seeds, then evaluated together. This model
    holds the N members (``members``, a ``ModuleList``) and predicts
    their ensemble, so the ensemble runs through the standard
    ``tools/test.py`` and evaluators. It is evaluation-only: ``mode='loss'``
    raises, each member is trained with its own single-network config.

    **Member logits.** Member ``n`` contributes the logits ``z_n`` ``(K, )``
    of ``member(inputs, mode='tensor')`` (the classification head applied to
    the member's features). A multi-output member, e.g. a
    :class:`~mmmixmo.models.classifiers.MixMoClassifier` whose head returns
    ``(B, M, K)``, contributes the mean of its M head logits, whose softmax is
    that member's own prediction.

    **Ensemble rule** (``average``):

    - ``'probs'`` (default): ``pred_score = mean_n softmax(z_n)``, the classic
      deep-ensemble rule (Lakshminarayanan et al., 2017). The method doc
      (the project's reading of the paper and the authors' code) specifies
      only the head ensembling inside one MixMo network, not how the
      deep-ensemble rows were averaged, so the classic rule is the default.
    - ``'logits'``: ``pred_score = softmax(mean_n z_n)``, the rule MixMo uses
      for its heads (method doc section 7), for a like-for-like comparison.

    **Outputs** of :meth:`predict`, on every DataSample: ``pred_score``
    ``(K, )``, ``pred_label``, ``head_logits`` ``(N, K)`` (the member
    logits, so
    :class:`~mmmixmo.evaluation.metrics.EnsembleDiversityMetric` reports
    per-member top-1 and the diversity between members) and
    ``ensemble_logits`` ``(K, )``: logits whose softmax is ``pred_score``,
    i.e. ``log(mean_n softmax(z_n))`` for ``'probs'`` (exact, computed with
    logsumexp) and ``mean_n z_n`` for ``'logits'``.
    :class:`~mmmixmo.evaluation.metrics.CalibrationMetric` reads
    ``ensemble_logits`` when present, so NLL, ECE and temperature scaling
    score the prediction the model made for either rule.

    **Checkpoints.** The state dict keys are ``members.<n>.<member key>``;
    ``tools/analysis_tools/merge_ensemble_checkpoints.py`` writes such a
    checkpoint from the N member checkpoints. Loading a state dict with no
    key for some member raises a ``KeyError`` (mmengine's runner loads
    non-strictly and would otherwise evaluate random members).

    **Data preprocessing.** The ensemble's ``data_preprocessor`` normalises
    the batch once and every member receives the same tensor, so members
    must have been trained with that normalisation (true for members trained
    with the config the ensemble config inherits). The members' own data
    preprocessors are not used.

    Args:
        member (dict, optional): Config of one member classifier, built
            ``num_members`` times (the same architecture, different weights).
            Exactly one of ``member`` and ``members`` must be given.
        num_members (int, optional): Number of members N >= 2 built from
            ``member``. Must be None (or ``len(members)``) with ``members``.
        members (list[dict], optional): One config per member, for
            heterogeneous ensembles (same number of classes).
        average (str): ``'probs'`` or ``'logits'``, see above. Defaults to
            ``'probs'``.
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='ClsDataPreprocessor')``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 member: Optional[dict] = None,
                 num_members: Optional[int] = None,
                 members: Optional[Sequence[dict]] = None,
                 average: str = 'probs',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if average not in AVERAGES:
            raise ValueError(f'model.average must be one of {AVERAGES}, got '
                             f'{average!r}')
        member_cfgs = self._member_cfgs(member, num_members, members)
        data_preprocessor = copy.deepcopy(data_preprocessor) or dict()
        if isinstance(data_preprocessor, dict):
            data_preprocessor.setdefault('type', 'ClsDataPreprocessor')
            # built from mmpretrain's registry, like ImageClassifier does
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            init_cfg=init_cfg, data_preprocessor=data_preprocessor)
        self.average = average
        self.members = ModuleList(
            _build_member(cfg, key) for key, cfg in member_cfgs)
        self._check_num_classes()
        self.register_load_state_dict_pre_hook(_check_member_weights)

    @staticmethod
    def _member_cfgs(member: Optional[dict], num_members: Optional[int],
                     members: Optional[Sequence[dict]]) -> List[tuple]:
        """``(config key, config)`` of every member, validated."""
        if (member is None) == (members is None):
            raise ValueError(
                'give exactly one of model.member (with model.num_members) '
                'and model.members (a list of member configs)')
        if members is not None:
            if isinstance(members, (dict, str)) or not isinstance(
                    members, Sequence):
                raise TypeError('model.members must be a list of member '
                                f'configs, got {type(members).__name__}')
            if num_members is not None and num_members != len(members):
                raise ValueError(
                    f'model.num_members={num_members} does not match the '
                    f'{len(members)} configs of model.members')
            if len(members) < 2:
                raise ValueError('model.members must list at least 2 member '
                                 f'configs, got {len(members)}')
            return [(f'model.members[{i}]', cfg)
                    for i, cfg in enumerate(members)]
        if isinstance(num_members, bool) or not isinstance(
                num_members, int) or num_members < 2:
            raise ValueError('model.num_members must be an int >= 2 with '
                             f'model.member, got {num_members!r}')
        return [('model.member', member)] * num_members

    def _check_num_classes(self) -> None:
        """Fail early when the member heads disagree on K."""
        classes = [
            getattr(member.head, 'num_classes', None)
            for member in self.members
        ]
        known = {k for k in classes if k is not None}
        if len(known) > 1:
            raise ValueError(
                'the members of model.members must predict the same number '
                f'of classes, got head.num_classes {classes}')

    @property
    def num_members(self) -> int:
        """Number of members N."""
        return len(self.members)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor') -> Union[Tensor, List[DataSample]]:
        """Entry of the runner (see mmpretrain's ``ImageClassifier``).

        Args:
            inputs (Tensor): Preprocessed images ``(B, C, H, W)``.
            data_samples (list[DataSample], optional): Samples to write the
                predictions into.
            mode (str): ``'tensor'`` returns the member logits ``(B, N, K)``,
                ``'predict'`` the ensemble predictions; ``'loss'`` raises.

        Returns:
            Tensor | list[DataSample]: Depends on ``mode``.
        """
        if mode == 'tensor':
            return self.member_logits(inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        """Not supported: the members of a deep ensemble train separately.

        Raises:
            RuntimeError: Always.
        """
        raise RuntimeError(
            'EnsembleClassifier is evaluation-only (model.type='
            "'EnsembleClassifier'): train each member separately with its "
            'single-network config and a different seed, e.g. `python '
            'tools/train.py configs/baselines/vanilla_wrn28-10_1xb64_'
            'cifar100.py --cfg-options randomness.seed=1 --work-dir '
            f'work_dirs/member1`, then merge the checkpoints with {MERGE_TOOL}'
            ' and evaluate the ensemble config with tools/test.py')

    def extract_feat(self, inputs: Tensor,
                     stage: str = 'neck') -> Tuple[Any, ...]:
        """Features of every member.

        Args:
            inputs (Tensor): Preprocessed images ``(B, C, H, W)``.
            stage (str): Passed to each member's ``extract_feat``.

        Returns:
            tuple: One entry per member, each what that member's
            ``extract_feat`` returns.
        """
        return tuple(
            member.extract_feat(inputs, stage=stage)
            for member in self.members)

    def member_logits(self, inputs: Tensor) -> Tensor:
        """Logits of every member (multi-head members: mean over heads).

        Args:
            inputs (Tensor): Preprocessed images ``(B, C, H, W)``.

        Returns:
            Tensor: Float32 logits of shape ``(B, N, K)``.
        """
        logits = []
        for i, member in enumerate(self.members):
            out = member(inputs, mode='tensor')
            if not isinstance(out, Tensor) or out.dim() not in (2, 3):
                shape = tuple(out.shape) if isinstance(out, Tensor) else type(
                    out).__name__
                raise ValueError(
                    f'member {i} of the ensemble must return logits (B, K) or '
                    f'(B, heads, K) in mode="tensor", got {shape}')
            if out.dim() == 3:
                out = out.mean(dim=1)
            logits.append(out.float())
        widths = {x.size(1) for x in logits}
        if len(widths) > 1:
            raise ValueError('the members of the ensemble (model.member / '
                             'model.members) predict different numbers of '
                             f'classes: {[x.size(1) for x in logits]}')
        return torch.stack(logits, dim=1)

    def ensemble(self, member_logits: Tensor) -> Tuple[Tensor, Tensor]:
        """Combine member logits by the ``average`` rule.

        Args:
            member_logits (Tensor): ``(B, N, K)``.

        Returns:
            tuple[Tensor, Tensor]: ``pred_score`` ``(B, K)`` and
            ``ensemble_logits`` ``(B, K)``, with
            ``softmax(ensemble_logits) == pred_score``.
        """
        if self.average == 'probs':
            scores = F.softmax(member_logits, dim=2).mean(dim=1)
            logits = torch.logsumexp(
                F.log_softmax(member_logits, dim=2), dim=1) - math.log(
                    member_logits.size(1))
        else:
            logits = member_logits.mean(dim=1)
            scores = F.softmax(logits, dim=1)
        return scores, logits

    def predict(
        self,
        inputs: Tensor,
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Ensemble prediction of the N members.

        Args:
            inputs (Tensor): Preprocessed images ``(B, C, H, W)``.
            data_samples (list[DataSample | None], optional): Samples to
                write the predictions into; new ones are made when None.

        Returns:
            list[DataSample]: Samples with ``pred_score`` ``(K, )``,
            ``pred_label``, ``head_logits`` ``(N, K)`` and
            ``ensemble_logits`` ``(K, )``.
        """
        member_logits = self.member_logits(inputs).detach()
        scores, logits = self.ensemble(member_logits)
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [None] * member_logits.size(0)
        results = []
        for sample, score, label, heads, ens in zip(data_samples, scores,
                                                    labels, member_logits,
                                                    logits):
            sample = DataSample() if sample is None else sample
            sample.set_pred_score(score).set_pred_label(label)
            sample.set_field(heads, 'head_logits')
            sample.set_field(ens, 'ensemble_logits')
            results.append(sample)
        return results
