"""MixMo: Mixing Multiple Inputs for Multiple Outputs via Deep Subnetworks."""
import copy
from typing import List, Optional, Tuple, Union

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..data_preprocessors import MixMoDataPreprocessor
from ..utils.member_encoders import (EncoderSlot, MemberEncoders,
                                     find_encoder_layer)
from ..utils.post_hoc_calibration import build_calibration


@MODELS.register_module()
class MixMoClassifier(ImageClassifier):
    """A MixMo / MIMO classifier: M inputs, M outputs, one network.

    In training, ``MixMoDataPreprocessor`` gives each member its own image
    ``(B, M, C, H, W)``; the backbone runs on them stacked on the channels
    up to its first convolution ``encoder_layer``, where the M member
    encoders (copies of that convolution) encode them and the mixing block
    merges the encodings (``EncoderSlot``); the rest of the backbone (the
    shared core), the neck and ``MultiHeadClsHead`` (M heads) follow. At test
    time every member sees the same image ``(B, C, H, W)`` and the encoders
    fold into one convolution: inference costs the single network.

    Weights of a single network (a plain mmpretrain classifier, or
    :func:`fold_mixmo`'s) load as its MixMo start: see :func:`unfold_mixmo`.

    Args:
        backbone (dict): The single network's backbone.
        mixing (dict): The mixing block.
        head (dict): The multi-head.
        neck (dict, optional): Defaults to global average pooling.
        num_members (int): Number of members M >= 2, given to the mixing
            block, the head and the preprocessor. Defaults to 2.
        encoder_layer (str, optional): Dotted name of the backbone's first
            convolution (the ``nn.Conv2d`` that reads the image). Defaults
            to None: the only ``nn.Conv2d`` with the first one's input
            channels.
        data_preprocessor (dict, optional): Defaults to
            ``MixMoDataPreprocessor``; its ``num_classes`` to the head's.
        channels_last (bool): Store and run the network in the NHWC memory
            format (faster on GPUs with tensor cores). Defaults to False.
        calibration (dict, optional): The temperature and conformal sets
            applied to the predictions (:class:`PostHocCalibration`, written
            by ``tools/calibrate.py``). Defaults to None.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 mixing: dict,
                 head: dict,
                 neck: Optional[dict] = dict(type='GlobalAveragePooling'),
                 num_members: int = 2,
                 encoder_layer: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 channels_last: bool = False,
                 calibration: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        calibration = build_calibration(calibration)
        if not (isinstance(num_members, int) and num_members >= 2):
            raise ValueError(
                f'model.num_members must be an int >= 2, got {num_members!r}')
        preprocessor = dict(type='MixMoDataPreprocessor')
        preprocessor.update(data_preprocessor or {})
        mixing, head, preprocessor = (
            _with_members(cfg, key, num_members)
            for cfg, key in ((mixing, 'mixing'), (head, 'head'),
                             (preprocessor, 'data_preprocessor')))
        if not issubclass(MODELS.get(preprocessor['type']) or type,
                          MixMoDataPreprocessor):
            raise TypeError(
                f'model.data_preprocessor.type={preprocessor["type"]!r}: '
                'MixMoClassifier needs MixMoDataPreprocessor, which builds '
                'the member inputs and labels')
        classes = preprocessor.setdefault('num_classes', head['num_classes'])
        if classes != head['num_classes']:
            raise ValueError(
                f'model.data_preprocessor.num_classes={classes} does not '
                f'match model.head.num_classes={head["num_classes"]}')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            data_preprocessor=preprocessor,
            init_cfg=init_cfg)
        self.mixing = MODELS.build(mixing)
        self.encoder_layer = find_encoder_layer(self.backbone, encoder_layer)
        parent, _, child = self.encoder_layer.rpartition('.')
        parent = self.backbone.get_submodule(parent)
        self.encoders = MemberEncoders(
            getattr(parent, child), num_members,
            [copy.deepcopy(rule) for rule in self._backbone_rules()] or None)
        slot = EncoderSlot(self.encoder_layer, self.encoders, self.mixing)
        if getattr(self.backbone, 'is_init', False):  # built with weights
            slot.start_from_single_network(getattr(parent, child))
        setattr(parent, child, slot)
        object.__setattr__(self, '_slot', slot)  # registered in the backbone
        self.calibration = calibration
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    def _backbone_rules(self) -> List[dict]:
        """The backbone's layer-wise init rules, reused for the encoders."""
        init_cfg = getattr(self.backbone, 'init_cfg', None) or []
        rules = init_cfg if isinstance(init_cfg, list) else [init_cfg]
        return [rule for rule in rules if 'layer' in rule]

    def extract_feat(self,
                     inputs: Tensor,
                     stage: str = 'neck') -> Union[tuple, Tensor]:
        """Features of images that every member sees, or of member images.

        Args:
            inputs (Tensor): Preprocessed images ``(B, C, H, W)``, or member
                images ``(B, M, C, H, W)`` (mixed at the encoders).
            stage (str): ``'backbone'``, ``'neck'`` or ``'pre_logits'``.

        Returns:
            tuple | Tensor: The features at ``stage``.
        """
        if inputs.dim() == 5:
            inputs = inputs.flatten(1, 2)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return super().extract_feat(inputs, stage)

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        """Encode, mix, run the core and the weighted multi-head loss.

        Args:
            inputs (Tensor): Member images ``(B, M, C, H, W)``.
            data_samples (list[DataSample]): Member labels, one per slot.

        Returns:
            dict[str, Tensor]: ``loss_head{i}`` per head.
        """
        feats = self.extract_feat(inputs)
        masks, self._slot.masks = self._slot.masks, None
        return self.head.loss(feats, data_samples, masks)

    def predict(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """The ensemble predictions (see ``MultiHeadClsHead``), calibrated
        by ``calibration``."""
        samples = super().predict(inputs, data_samples, **kwargs)
        if self.calibration is None:
            return samples
        return self.calibration.calibrate_samples(samples)

    def train(self, mode: bool = True) -> 'MixMoClassifier':
        """Set the mode; the encoders follow the freezing of the module
        that holds the first convolution.

        Backbones that freeze their stem in ``train()`` (Swin's patch
        embedding, MobileNetV2's and EfficientNet's first ConvModule with
        ``frozen_stages``) freeze that module's parameters, no longer the
        convolution's: frozen, they freeze the encoders too.
        """
        super().train(mode)
        holder = self.encoder_layer.rpartition('.')[0]
        params = list(self.backbone.get_submodule(holder).parameters()) \
            if holder else []
        if params and not any(p.requires_grad for p in params):
            self.encoders.requires_grad_(False)
        return self

    def get_layer_depth(self, param_name: str) -> Tuple[int, int]:
        """The layer-wise depth of a parameter (layer-wise lr decay): the
        encoders are at the depth of the backbone's first convolution."""
        if param_name.startswith('encoders.'):
            param_name = f'backbone.{self.encoder_layer}.weight'
        return super().get_layer_depth(param_name)

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              *args) -> None:
        """Unfold the weights of a single network (see :func:`unfold_mixmo`)
        before they load; MixMo weights load as they are."""
        own = {
            key[len(prefix):]: value
            for key, value in state_dict.items() if key.startswith(prefix)
        }
        if f'backbone.{self.encoder_layer}.weight' in own:
            from .fold_mixmo import unfold_mixmo
            for key in own:
                del state_dict[prefix + key]
            model_cfg = dict(
                num_members=len(self.encoders.convs),
                encoder_layer=self.encoder_layer,
                head=dict(
                    num_classes=self.head.num_classes,
                    in_channels=self.head.fc.in_features))
            state_dict.update(
                (prefix + key, value)
                for key, value in unfold_mixmo(model_cfg, own).items())
        super()._load_from_state_dict(state_dict, prefix, *args)


def _with_members(cfg: dict, key: str, num_members: int) -> dict:
    """A copy of ``model.<key>`` with the model's M, or an error naming it."""
    cfg = copy.deepcopy(cfg)
    value = cfg.setdefault('num_members', num_members)
    if value != num_members:
        raise ValueError(f'model.{key}.num_members={value} does not match '
                         f'model.num_members={num_members}')
    return cfg
