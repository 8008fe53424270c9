"""MixMo: Mixing Multiple Inputs for Multiple Outputs via Deep Subnetworks."""
import copy
from typing import List, Optional, Tuple, Union

import torch
from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..utils.member_encoders import MemberEncoders


def _build(cfg: Union[dict, nn.Module], key: str) -> nn.Module:
    """Build a sub-module, naming its config key when the type is unknown."""
    if isinstance(cfg, nn.Module):
        return cfg
    try:
        return MODELS.build(cfg)
    except KeyError as err:
        if 'not in the' in str(err) and 'registry' in str(err):
            raise KeyError(
                f'{key}.type={cfg.get("type")!r} is not a registered model '
                f'type (did you `import mmmixmo`?): {err}') from err
        raise


def _sync_members(cfg: Union[dict, nn.Module], key: str,
                  num_members: int) -> Union[dict, nn.Module]:
    """Give a sub-config the classifier's M, or fail naming the key."""
    if isinstance(cfg, nn.Module):
        value = getattr(cfg, 'num_members', num_members)
    else:
        cfg = copy.deepcopy(cfg)
        value = cfg.setdefault('num_members', num_members)
    if value != num_members:
        raise ValueError(f'{key}.num_members={value} does not match '
                         f'model.num_members={num_members}')
    return cfg


def _pop_layer(module: nn.Module, name: str) -> nn.Module:
    """Replace the sub-module at dotted path ``name`` by an Identity."""
    parent_name, _, child = name.rpartition('.')
    try:
        parent = module.get_submodule(parent_name)
        layer = getattr(parent, child)
    except AttributeError as err:
        raise AttributeError(
            f'model.encoder_layer={name!r} is not a layer of '
            f'{type(module).__name__}') from err
    if not isinstance(layer, nn.Conv2d):
        raise TypeError(
            f'model.encoder_layer={name!r} must name the nn.Conv2d that the '
            f'backbone applies first, got {type(layer).__name__}')
    setattr(parent, child, nn.Identity())
    return layer


@MODELS.register_module()
class MixMoClassifier(ImageClassifier):
    """A MixMo / MIMO classifier: M inputs, M outputs, one network.

    The data path reads forward:

    1. :class:`~mmmixmo.models.data_preprocessors.MixMoDataPreprocessor`
       builds the M member inputs ``(B, M, C, H, W)`` and their labels;
    2. :class:`~mmmixmo.models.utils.MemberEncoders` (the backbone's first
       convolution, ``encoder_layer``, taken out of the backbone and copied
       M times) encodes each member;
    3. the mixing block (``mixing``, e.g.
       :class:`~mmmixmo.models.necks.CutOrLinearMixing`) merges the M
       encodings;
    4. the rest of the backbone (the shared core), the neck (global pooling)
       and :class:`~mmmixmo.models.heads.MultiHeadClsHead` (M heads, weighted
       loss, ensemble prediction).

    At test time the preprocessor yields plain ``(B, C, H, W)`` images: every
    member sees the same image, whose M encodings the mixing block would sum;
    that sum is computed as one convolution with the summed kernels
    (:meth:`MemberEncoders.forward_folded`), so inference costs exactly the
    single network. Passing ``(B, M, C, H, W)`` in eval mode runs the M
    encoders and the mixing block's test branch instead (same result for
    identical member images).

    Any backbone works whose first operation is a ``nn.Conv2d`` attribute
    applied before everything else: ``WideResNet`` and ``PreActResNet`` of
    this package, and mmpretrain's ``ResNet_CIFAR`` and ``ResNet`` (without
    ``deep_stem``) with ``encoder_layer='conv1'``.

    Args:
        backbone (dict): The single-network backbone config.
        mixing (dict): The mixing block config; its ``num_members`` defaults
            to ``num_members``.
        head (dict): The multi-head config; its ``num_members`` defaults to
            ``num_members``.
        neck (dict, optional): Defaults to global average pooling.
        num_members (int): Number of members M. Defaults to 2.
        encoder_layer (str): Dotted name of the backbone's first convolution,
            which becomes the M member encoders. Defaults to ``'conv1'``.
        data_preprocessor (dict, optional): Defaults to
            ``dict(type='MixMoDataPreprocessor')`` with ``num_members``.
        channels_last (bool): Store the weights and run the network in the
            channels-last (NHWC) memory format, faster on GPUs with tensor
            cores, especially with AMP. The model converts itself when it is
            built, before mmengine wraps it in DDP. Outputs are the same up
            to floating-point reordering. Defaults to False.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 mixing: dict,
                 head: dict,
                 neck: Optional[dict] = dict(type='GlobalAveragePooling'),
                 num_members: int = 2,
                 encoder_layer: str = 'conv1',
                 data_preprocessor: Optional[dict] = None,
                 channels_last: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        if not isinstance(num_members, int) or num_members < 2:
            raise ValueError(
                f'model.num_members must be an int >= 2, got {num_members!r}')
        data_preprocessor = copy.deepcopy(data_preprocessor) or dict()
        if isinstance(data_preprocessor, dict):
            # like ImageClassifier's default, e.g. for the type-less
            # `data_preprocessor` of mmpretrain's dataset configs
            data_preprocessor.setdefault('type', 'MixMoDataPreprocessor')
        self._check_preprocessor_type(data_preprocessor)
        data_preprocessor = _sync_members(data_preprocessor,
                                          'model.data_preprocessor',
                                          num_members)
        mixing = _sync_members(mixing, 'model.mixing', num_members)
        head = _sync_members(head, 'model.head', num_members)
        self._check_num_classes(data_preprocessor, head)
        if isinstance(data_preprocessor, dict) and isinstance(head, dict):
            # the preprocessor validates the labels against the head's K
            data_preprocessor.setdefault('num_classes',
                                         head.get('num_classes'))
        super().__init__(
            backbone=_build(backbone, 'model.backbone'),
            neck=None if neck is None else _build(neck, 'model.neck'),
            head=_build(head, 'model.head'),
            data_preprocessor=_build(data_preprocessor,
                                     'model.data_preprocessor'),
            init_cfg=init_cfg)
        self.num_members = num_members
        self.encoder_layer = encoder_layer
        self.mixing = _build(mixing, 'model.mixing')
        first_conv = _pop_layer(self.backbone, encoder_layer)
        self.encoders = MemberEncoders(
            first_conv, num_members, init_cfg=self._layer_init_cfg())
        self.channels_last = channels_last
        if channels_last:
            self.to(memory_format=torch.channels_last)

    @staticmethod
    def _check_preprocessor_type(
            data_preprocessor: Union[dict, nn.Module]) -> None:
        """The member inputs and labels come from MixMoDataPreprocessor."""
        from ..data_preprocessors import MixMoDataPreprocessor
        if isinstance(data_preprocessor, nn.Module):
            cls = type(data_preprocessor)
        else:
            cls = MODELS.get(data_preprocessor.get('type'))
        if cls is None or not issubclass(cls, MixMoDataPreprocessor):
            name = getattr(cls, '__name__', None) or data_preprocessor.get(
                'type')
            raise TypeError(
                f'model.data_preprocessor.type={name!r}: MixMoClassifier '
                'needs MixMoDataPreprocessor (or a subclass), which builds '
                'the member inputs and labels')

    @staticmethod
    def _check_num_classes(data_preprocessor: Union[dict, nn.Module],
                           head: Union[dict, nn.Module]) -> None:
        """Fail early when the preprocessor and head disagree on K."""
        def get(cfg, key):
            return (getattr(cfg, key, None) if isinstance(cfg, nn.Module)
                    else cfg.get(key))

        pre_classes = get(data_preprocessor, 'num_classes')
        head_classes = get(head, 'num_classes')
        if pre_classes is not None and head_classes is not None \
                and pre_classes != head_classes:
            raise ValueError(
                f'model.data_preprocessor.num_classes={pre_classes} does not '
                f'match model.head.num_classes={head_classes}')

    def _layer_init_cfg(self) -> Optional[List[dict]]:
        """The backbone's layer-wise init rules, reused for the encoders."""
        init_cfg = getattr(self.backbone, 'init_cfg', None)
        if init_cfg is None:
            return None
        rules = init_cfg if isinstance(init_cfg, list) else [init_cfg]
        rules = [copy.deepcopy(rule) for rule in rules if 'layer' in rule]
        return rules or None

    def encode(self, inputs: Tensor) -> Tuple[Tensor, Optional[tuple]]:
        """Member encoders and mixing block.

        Args:
            inputs (Tensor): Member images ``(B, M, C, H, W)``, or one image
                per sample ``(B, C, H, W)`` shared by all members.

        Returns:
            tuple: The mixed encoding ``(B, C0, H', W')`` and the
            :class:`~mmmixmo.models.necks.MixingOutput` (None for shared
            images, which use the folded encoder).
        """
        if inputs.dim() == 5:
            mixed = self.mixing(self.encoders(inputs))
            return mixed.features, mixed
        if inputs.dim() == 4:
            if self.channels_last:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            return self.encoders.forward_folded(inputs), None
        raise ValueError('MixMoClassifier expects inputs of shape '
                         f'(B, M, C, H, W) or (B, C, H, W), got '
                         f'{tuple(inputs.shape)}')

    def _core(self, x: Tensor, stage: str) -> Union[tuple, Tensor]:
        """Shared core, neck and pre-logits after the mixing block."""
        if stage not in ('backbone', 'neck', 'pre_logits'):
            raise ValueError(f'Invalid output stage "{stage}", please choose '
                             'from "backbone", "neck" and "pre_logits"')
        x = self.backbone(x)
        if stage == 'backbone':
            return x
        if self.with_neck:
            x = self.neck(x)
        if stage == 'neck':
            return x
        return self.head.pre_logits(x)

    def extract_feat(self,
                     inputs: Tensor,
                     stage: str = 'neck') -> Union[tuple, Tensor]:
        """Extract features (see :meth:`encode` for the input shapes).

        Args:
            inputs (Tensor): ``(B, M, C, H, W)`` or ``(B, C, H, W)``.
            stage (str): ``'backbone'``, ``'neck'`` or ``'pre_logits'``.

        Returns:
            tuple | Tensor: The features at ``stage``.
        """
        # no local reference: the encoding is freed once the core used it
        return self._core(self.encode(inputs)[0], stage)

    def loss(self, inputs: Tensor, data_samples: List[DataSample]) -> dict:
        """Mixed forward and weighted multi-head loss.

        Args:
            inputs (Tensor): Member images ``(B, M, C, H, W)`` from
                :class:`~mmmixmo.models.data_preprocessors.
                MixMoDataPreprocessor`.
            data_samples (list[DataSample]): One per slot, with the member
                labels.

        Returns:
            dict[str, Tensor]: ``loss_head{i}`` per head.
        """
        if inputs.dim() != 5:
            raise ValueError(
                'MixMoClassifier.loss needs member inputs (B, M, C, H, W) '
                "from model.data_preprocessor.type='MixMoDataPreprocessor', "
                f'got {tuple(inputs.shape)}')
        x, mixed = self.encode(inputs)
        feats = self._core(x, 'neck')
        return self.head.loss(
            feats, data_samples, masks=mixed.masks, kappa=mixed.kappa)
