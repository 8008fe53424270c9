"""A trained MixMo network folded into the single network it costs."""
import copy
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import is_model_wrapper
from mmpretrain.models.heads import LinearClsHead
from torch import Tensor, nn


class FoldedMixMo(nn.Module):
    """The test-time MixMo ensemble as one vanilla forward pass.

    At test time every MixMo member sees the same image, so (see
    :meth:`~mmmixmo.models.utils.MemberEncoders.fold`) the M encoders and the
    mixing block's sum are one convolution with the summed kernels and
    biases, and the ensemble, the mean of the M linear heads' logits, is one
    linear layer with the mean of their weights and biases:
    ``mean_i (W_i x + b_i) = (mean_i W_i) x + mean_i b_i``. Both identities
    are exact; only the floating-point rounding differs from the MixMo
    model's ``predict``.

    The module is therefore built from the modules of the vanilla
    ``ImageClassifier`` (its ``backbone`` with the first convolution in
    place, its ``neck`` and a ``LinearClsHead(num_classes, in_channels)``
    as ``head``), so it has exactly the vanilla network's layers and
    parameters: ``ImageClassifier.load_state_dict(folded.state_dict())``
    loads strictly. Build it with :func:`fold_mixmo`.

    Args:
        backbone (nn.Module): The backbone with its first convolution.
        neck (nn.Module, optional): The neck (global pooling), or None.
        head (LinearClsHead): The single linear classifier.
        mean (Sequence[float], optional): Per-channel pixel mean. When given
            (with ``std``) the model normalises its inputs like mmpretrain's
            ``ClsDataPreprocessor``: it takes raw images (e.g. 0-255, any
            dtype, cast to float32) of shape ``(B, C, H, W)``. When None,
            the inputs must already be normalised. The statistics are
            non-persistent buffers, as in ``ClsDataPreprocessor``: they are
            not in ``state_dict()`` but TorchScript and ``torch.export``
            save them. Defaults to None.
        std (Sequence[float], optional): Per-channel pixel standard
            deviation, given together with ``mean``. Defaults to None.
        to_rgb (bool): With ``mean``/``std``: flip the channel order (BGR to
            RGB) of 3-channel inputs before normalising, as the data
            preprocessor's ``to_rgb``. Defaults to False.
        with_softmax (bool): Return the ensemble's class probabilities (the
            MixMo model's ``pred_score``) instead of its logits.
            Defaults to True.
    """

    def __init__(self,
                 backbone: nn.Module,
                 neck: Optional[nn.Module],
                 head: LinearClsHead,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 to_rgb: bool = False,
                 with_softmax: bool = True) -> None:
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError('FoldedMixMo needs both mean and std (or '
                             'neither) to normalise its inputs')
        self.backbone = backbone
        self.neck = neck
        self.head = head
        self.with_preprocess = mean is not None
        self.to_rgb = bool(to_rgb)
        self.with_softmax = bool(with_softmax)
        if self.with_preprocess:
            self.register_buffer(
                'mean',
                torch.as_tensor(mean, dtype=torch.float32).view(-1, 1, 1),
                persistent=False)
            self.register_buffer(
                'std',
                torch.as_tensor(std, dtype=torch.float32).view(-1, 1, 1),
                persistent=False)

    def preprocess(self, inputs: Tensor) -> Tensor:
        """Channel flip and normalisation of raw images.

        Args:
            inputs (Tensor): Raw images of shape ``(B, C, H, W)``.

        Returns:
            Tensor: Float32 normalised images ``(B, C, H, W)``.
        """
        if self.to_rgb and inputs.size(1) == 3:
            inputs = inputs.flip(1)
        return (inputs.float() - self.mean) / self.std

    def forward(self, inputs: Tensor) -> Tensor:
        """One forward pass of the folded network.

        Args:
            inputs (Tensor): Images of shape ``(B, C, H, W)``: raw when the
                model was built with ``mean``/``std``, normalised otherwise.

        Returns:
            Tensor: Ensemble scores (softmax, float32) or logits, of shape
            ``(B, num_classes)``.
        """
        if self.with_preprocess:
            inputs = self.preprocess(inputs)
        feats = self.backbone(inputs)
        if self.neck is not None:
            feats = self.neck(feats)
        logits = self.head(feats)
        if self.with_softmax:
            return F.softmax(logits.float(), dim=1)
        return logits


def fold_mixmo(model: nn.Module,
               with_preprocess: bool = False,
               with_softmax: bool = True) -> FoldedMixMo:
    """Fold a MixMo classifier into a single-forward :class:`FoldedMixMo`.

    - **Encoders**: the M member convolutions become one convolution whose
      kernel and bias are their sums
      (:meth:`~mmmixmo.models.utils.MemberEncoders.fold`), put back at the
      backbone's ``encoder_layer`` (the attribute
      ``model.encoder_layer`` when the classifier has one, else
      ``'conv1'``, the classifier's default).
    - **Heads**: the ``nn.Linear(in_channels, M * K)`` of
      :class:`~mmmixmo.models.heads.MultiHeadClsHead` becomes one
      ``nn.Linear(in_channels, K)`` (in a ``LinearClsHead``) whose weight and
      bias are the means over the M heads, so its output is the mean of the
      head logits, which ``predict`` turns into ``pred_score`` by a softmax.

    The backbone and the neck are deep copies: the model is never modified.
    The result is in eval mode (BN uses its running statistics, as
    ``predict`` in eval mode), on the model's device, and equals
    ``model.test_step(...)``'s ``pred_score`` (``with_preprocess=True``, raw
    images) or ``model(inputs, mode='predict')``'s (normalised ``inputs``) up
    to floating-point rounding.

    Args:
        model (nn.Module): A
            :class:`~mmmixmo.models.classifiers.MixMoClassifier` (or a model
            wrapper, e.g. DDP, around one).
        with_preprocess (bool): Include the data preprocessor's channel flip
            and normalisation, so the folded model takes raw images (0-255).
            Padding (``pad_size_divisor > 1``) is not included and is
            rejected. Defaults to False.
        with_softmax (bool): Output the ensemble's probabilities
            (``pred_score``); False outputs the mean of the head logits.
            Defaults to True.

    Returns:
        FoldedMixMo: The single network, in eval mode.
    """
    # Imported here: the classifier imports this subpackage.
    from ..classifiers import MixMoClassifier
    from ..heads import MultiHeadClsHead

    if is_model_wrapper(model):
        model = model.module
    if not isinstance(model, MixMoClassifier):
        raise TypeError('fold_mixmo needs a MixMoClassifier (model.type='
                        f"'MixMoClassifier'), got {type(model).__name__}")
    if not isinstance(model.head, MultiHeadClsHead):
        raise TypeError(
            "fold_mixmo needs model.head.type='MultiHeadClsHead' (linear "
            f'heads), got {type(model.head).__name__}')

    backbone = copy.deepcopy(model.backbone)
    encoder_layer = getattr(model, 'encoder_layer', 'conv1')
    parent_name, _, child = encoder_layer.rpartition('.')
    parent = backbone.get_submodule(parent_name)
    if not isinstance(getattr(parent, child, None), nn.Identity):
        raise ValueError(
            f'model.encoder_layer={encoder_layer!r}: expected the nn.Identity '
            'that replaced the first convolution in the MixMoClassifier '
            f'backbone, got {type(getattr(parent, child, None)).__name__}')
    setattr(parent, child, model.encoders.fold())

    head = model.head
    num_members, num_classes = head.num_members, head.num_classes
    fc = head.fc
    folded_head = LinearClsHead(
        num_classes=num_classes, in_channels=head.in_channels, init_cfg=None)
    with torch.no_grad():
        folded_head.fc.weight.copy_(
            fc.weight.view(num_members, num_classes, -1).mean(0))
        folded_head.fc.bias.copy_(
            fc.bias.view(num_members, num_classes).mean(0))
    folded_head.to(device=fc.weight.device, dtype=fc.weight.dtype)

    mean = std = None
    to_rgb = False
    if with_preprocess:
        pre = model.data_preprocessor
        if getattr(pre, 'pad_size_divisor', 1) > 1:
            raise ValueError(
                'fold_mixmo(with_preprocess=True) does not include padding: '
                'model.data_preprocessor.pad_size_divisor='
                f'{pre.pad_size_divisor}; pad the images yourself and fold '
                'without preprocessing')
        if getattr(pre, '_enable_normalize', False):
            mean, std = pre.mean.flatten().tolist(), pre.std.flatten().tolist()
        else:  # the preprocessor only casts to float
            channels = model.encoders.convs[0].in_channels
            mean, std = [0.0] * channels, [1.0] * channels
        to_rgb = bool(getattr(pre, 'to_rgb', False))

    folded = FoldedMixMo(
        backbone=backbone,
        neck=copy.deepcopy(model.neck) if model.with_neck else None,
        head=folded_head,
        mean=mean,
        std=std,
        to_rgb=to_rgb,
        with_softmax=with_softmax)
    return folded.to(fc.weight.device).eval()
