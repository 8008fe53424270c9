"""Fold a trained MixMo model into the single network it costs at test time."""
import copy
import inspect
from collections import OrderedDict
from typing import Tuple

from mmengine.config import ConfigDict

from ..utils.member_encoders import fold_members
from .mixmo_classifier import MixMoClassifier

_DEFAULTS = {
    name: param.default
    for name, param in inspect.signature(MixMoClassifier).parameters.items()
}


def fold_mixmo(model_cfg: dict,
               state_dict: dict,
               keep_heads: bool = False) -> Tuple[ConfigDict, dict]:
    """Turn a MixMoClassifier into a plain mmpretrain ``ImageClassifier``.

    At test time every member sees the same image, so the M encoders are one
    convolution with the summed kernels and biases, and the mean of the M
    heads' logits is one linear layer with the mean weights and bias. The
    result has exactly the vanilla network's layers and parameters. The
    mean of the heads' probabilities (``head.average='probs'``) is not a
    linear layer: such a model does not fold, unless the heads are kept.

    Args:
        model_cfg (dict): The ``MixMoClassifier`` config (``cfg.model``).
        state_dict (dict): Its weights.
        keep_heads (bool): Fold only the encoders and keep the M heads (a
            ``MultiHeadClsHead`` with the MixMo head's config and weights):
            the classifier's ``mode='tensor'`` returns the member logits
            ``(B, M, K)`` and ``predict`` writes ``pred_score``,
            ``head_logits`` and ``ensemble_logits`` like the MixMo model.
            The heads cost ``M * K * C`` multiply-adds. Defaults to False.

    Returns:
        tuple[ConfigDict, dict]: The ``ImageClassifier`` config (the same
        backbone and neck, a ``LinearClsHead`` or the multi-head, and a
        ``ClsDataPreprocessor`` with the same normalisation) and its weights.
    """
    num_members = model_cfg.get('num_members', _DEFAULTS['num_members'])
    layer = model_cfg.get('encoder_layer', _DEFAULTS['encoder_layer'])
    head = model_cfg['head']
    if not keep_heads and head.get('average', 'logits') != 'logits':
        raise ValueError(
            f"model.head.average={head['average']!r}: only the mean of the "
            "heads' logits folds into one head; fold the logit-average "
            "ensemble with model.head.average='logits'")
    preprocessor = dict(model_cfg.get('data_preprocessor') or {})
    for key in ('num_members', 'input_repetition_prob', 'pixel_mix'):
        preprocessor.pop(key, None)
    preprocessor.update(type='ClsDataPreprocessor')
    preprocessor.setdefault('num_classes', head['num_classes'])
    folded_cfg = ConfigDict(
        type='ImageClassifier',
        backbone=copy.deepcopy(model_cfg['backbone']),
        neck=copy.deepcopy(model_cfg.get('neck', _DEFAULTS['neck'])),
        head=dict(copy.deepcopy(head), num_members=num_members)
        if keep_heads else dict(
            type='LinearClsHead',
            num_classes=head['num_classes'],
            in_channels=head['in_channels']),
        data_preprocessor=preprocessor)

    weights = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('head.fc.') and not keep_heads:
            value = value.view(num_members, -1, *value.shape[1:]).mean(0)
        if not key.startswith('encoders.'):
            weights[key] = value
    for name in ('weight', 'bias'):
        folded = fold_members([
            state_dict.get(f'encoders.convs.{i}.{name}')
            for i in range(num_members)
        ])
        if folded is not None:
            weights[f'backbone.{layer}.{name}'] = folded
    return folded_cfg, weights
