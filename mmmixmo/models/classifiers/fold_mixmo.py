"""Fold a trained MixMo model into the single network it costs at test time,
and unfold a single network into the MixMo model it starts."""
import copy
import inspect
from collections import OrderedDict
from typing import Dict, Tuple

from mmengine.config import ConfigDict
from mmengine.logging import print_log
from mmpretrain.registry import MODELS
from torch import Tensor

from ..utils.member_encoders import (find_encoder_layer, fold_members,
                                     unfold_members)
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
    A calibrated model (``model.calibration``) folds into a
    ``VanillaClassifier`` with the same calibration: the same calibrated
    scores and conformal sets.

    Args:
        model_cfg (dict): The ``MixMoClassifier`` config (``cfg.model``).
        state_dict (dict): Its weights.
        keep_heads (bool): Fold only the encoders and keep the M heads (a
            ``MultiHeadClsHead`` with the MixMo head's config and weights):
            the classifier's ``mode='tensor'`` returns the member logits
            ``(B, M, K)`` and ``predict`` writes ``pred_score``,
            ``member_logits`` and ``ensemble_logits`` like the MixMo model.
            The heads cost ``M * K * C`` multiply-adds. Defaults to False.

    Returns:
        tuple[ConfigDict, dict]: The ``ImageClassifier`` (calibrated:
        ``VanillaClassifier``) config (the same backbone and neck, a
        ``LinearClsHead`` or the multi-head, and a ``ClsDataPreprocessor``
        with the same normalisation) and its weights.
    """
    num_members = model_cfg.get('num_members', _DEFAULTS['num_members'])
    layer = _encoder_layer(model_cfg)
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
    if model_cfg.get('calibration') is not None:
        folded_cfg.update(
            type='VanillaClassifier',
            calibration=copy.deepcopy(model_cfg['calibration']))

    weights = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith('head.fc.') and not keep_heads:
            # float64: the mean of M equal heads is that head, exactly
            value = value.double().view(num_members, -1,
                                        *value.shape[1:]).mean(0).to(
                                            value.dtype)
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


def unfold_mixmo(model_cfg: dict, state_dict: Dict[str, Tensor]) -> dict:
    """Turn a single network's weights into the start of a MixMo model.

    The inverse of :func:`fold_mixmo`: every member encoder is the single
    network's first convolution divided by M (see :func:`unfold_members`:
    the encoders fold back to it bit for bit), and every head is its linear
    head when the number of classes (and features) match; other heads (a
    different K, hidden layers, none) are left out and keep the MixMo
    head's initialisation, which the log says. At test time the MixMo model
    then computes the single network: the folded encoders are its first
    convolution, the mean of M equal heads is its head. A head of M x K
    classes is not taken as M heads (it would split a single network's
    classes): the M heads kept by ``fold_mixmo(keep_heads=True)`` do not
    load back.

    Args:
        model_cfg (dict): The ``MixMoClassifier`` config (``cfg.model``).
        state_dict (dict[str, Tensor]): A single ``ImageClassifier``'s
            weights, with ``backbone.<encoder_layer>.weight``.

    Returns:
        dict[str, Tensor]: The MixMo model's weights.
    """
    num_members = model_cfg.get('num_members', _DEFAULTS['num_members'])
    layer = _encoder_layer(model_cfg)
    weights = OrderedDict()
    head = {}
    for key, value in state_dict.items():
        if key.startswith('head.'):
            head[key[len('head.'):]] = value
        elif key.startswith(f'backbone.{layer}.'):
            name = key[len(f'backbone.{layer}.'):]
            for i, member in enumerate(unfold_members(value, num_members)):
                weights[f'encoders.convs.{i}.{name}'] = member
            if name == 'weight':
                print_log(
                    f'the {num_members} member encoders start from the '
                    f"single network's backbone.{layer} / {num_members}",
                    logger='current')
        else:
            weights[key] = value
    weights.update(
        _unfold_head(head, num_members, model_cfg['head']['num_classes'],
                     model_cfg['head']['in_channels']))
    return weights


def _unfold_head(head: Dict[str, Tensor], num_members: int, num_classes: int,
                 in_channels: int) -> Dict[str, Tensor]:
    """The M heads (``head.fc.*``) from a single network's head weights
    (keys without ``head.``), or none; logs which."""
    linear = [key for key, value in head.items() if value.dim() == 2]
    shape = tuple(head[linear[0]].shape) if len(linear) == 1 else None
    bias = linear[0][:-len('weight')] + 'bias' if shape else None
    if shape == (num_classes, in_channels) and set(head) <= {linear[0], bias}:
        print_log(f"the {num_members} heads start from the single network's "
                  'head', logger='current')
        return {
            f'head.fc.{key.rpartition(".")[2]}':
            value.repeat(num_members, *[1] * (value.dim() - 1))
            for key, value in head.items()
        }
    found = ', '.join(f'{key} {list(value.shape)}'
                      for key, value in head.items()) or 'none'
    print_log(
        f"the {num_members} heads keep their initialisation: the single "
        f"network's head ({found}) is not one linear layer of "
        f'{[num_classes, in_channels]} (model.head.num_classes, '
        'in_channels)', logger='current')
    return {}


def _encoder_layer(model_cfg: dict) -> str:
    """``model.encoder_layer``, found in the backbone where not given."""
    layer = model_cfg.get('encoder_layer')
    return layer or find_encoder_layer(
        MODELS.build(model_cfg['backbone']), None)
