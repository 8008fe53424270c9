"""M linear classifiers on a shared feature, with MixMo's weighted loss."""
from typing import List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..utils.member_targets import member_soft_targets


def member_loss_weights(kappa: Tensor, r: float) -> Tensor:
    """MixMo's loss weights ``w_i = M * kappa_i^(1/r) / sum_j kappa_j^(1/r)``.

    The member that owns more of the mixed feature gets the larger weight;
    the weights of a sample sum to M. ``r = 1`` gives ``w_i = M * kappa_i``
    and ``r -> inf`` gives 1 for every member. The weights are constants of
    the loss (computed under ``no_grad`` from the effective kappa).

    Args:
        kappa (Tensor): Effective member shares, shape ``(B, M)``, rows
            summing to 1.
        r (float): Re-weighting temperature (the paper uses 3).

    Returns:
        Tensor: Float32 weights of shape ``(B, M)``.
    """
    with torch.no_grad():
        powered = kappa.float().clamp_min(0).pow(1.0 / r)
        total = powered.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return kappa.size(1) * powered / total


@MODELS.register_module()
class MultiHeadClsHead(ClsHead):
    """M linear classification heads on one pooled feature.

    Head ``i`` classifies the image that member ``i`` received. The M heads
    are stored as one ``nn.Linear(in_channels, M * K)`` (the same parameters
    as M separate layers, one matrix product). The training loss is

    ``sum_i mean_b( w_bi * CE(head_i(x_b), target_bi) )``

    with :func:`member_loss_weights` and soft targets from
    :func:`~mmmixmo.models.utils.member_targets.member_soft_targets`; it is
    logged as one entry per head (``loss_head0``, ``loss_head1``, ...), which
    mmengine sums (the heads are summed, not averaged, as in the authors'
    code). The prediction is the ensemble: ``pred_score`` is the softmax of
    the mean of the head logits, and every DataSample also keeps the
    ``head_logits`` of shape ``(M, K)`` for the diversity metrics.

    Args:
        num_members (int): Number of members/heads M.
        num_classes (int): Number of classes K.
        in_channels (int): Channels of the pooled feature.
        r (float): Loss re-weighting temperature (``r = 1`` with kappa fixed
            at ``1/M`` is MIMO's plain sum). Defaults to 3.
        loss (dict): Config of a per-sample classification loss that accepts
            soft targets and a ``weight`` argument. Defaults to
            ``dict(type='CrossEntropyLoss', use_soft=True)``.
        topk (int | tuple[int]): Kept for compatibility with ClsHead.
        init_cfg (dict, optional): Initialisation of the linear layer.
            Defaults to ``dict(type='Normal', layer='Linear', std=0.01)``.
    """

    def __init__(self,
                 num_members: int,
                 num_classes: int,
                 in_channels: int,
                 r: float = 3.0,
                 loss: dict = dict(type='CrossEntropyLoss', use_soft=True),
                 topk: Union[int, Tuple[int]] = (1, ),
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01)) -> None:
        super().__init__(loss=loss, topk=topk, init_cfg=init_cfg)
        if num_members < 1:
            raise ValueError('model.head.num_members must be >= 1, got '
                             f'{num_members}')
        if num_classes < 1:
            raise ValueError('model.head.num_classes must be >= 1, got '
                             f'{num_classes}')
        if r <= 0:
            raise ValueError(f'model.head.r must be > 0, got {r}')
        self.num_members = num_members
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.r = r
        self.fc = nn.Linear(in_channels, num_members * num_classes)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """Compute every head's logits.

        Args:
            feats (tuple[Tensor]): Neck outputs; the last one, of shape
                ``(B, in_channels)``, is classified.

        Returns:
            Tensor: Logits of shape ``(B, M, K)``.
        """
        logits = self.fc(self.pre_logits(feats))
        return logits.view(-1, self.num_members, self.num_classes)

    def loss(self, feats: Tuple[Tensor], data_samples: List[DataSample],
             masks: Tensor, kappa: Tensor) -> dict:
        """Weighted multi-head loss of a mixed batch.

        Args:
            feats (tuple[Tensor]): Neck outputs, last of shape
                ``(B, in_channels)``.
            data_samples (list[DataSample]): One per slot, with the fields
                ``member_gt_label`` and optionally ``member_mix_label`` and
                ``member_pixel_mask`` written by
                :class:`~mmmixmo.models.data_preprocessors.
                MixMoDataPreprocessor`.
            masks (Tensor): The mixing block's masks ``(B, M, h, w)``.
            kappa (Tensor): The effective member shares ``(B, M)``.

        Returns:
            dict[str, Tensor]: ``loss_head{i}`` for every head.
        """
        # float32 loss under autocast (bf16/fp16 logits)
        logits = self(feats).float()
        targets = self._member_targets(data_samples, masks)
        weights = member_loss_weights(kappa, self.r)
        losses = dict()
        for i in range(self.num_members):
            losses[f'loss_head{i}'] = self.loss_module(
                logits[:, i], targets[:, i], weight=weights[:, i])
        return losses

    def _member_targets(self, data_samples: Sequence[DataSample],
                        masks: Tensor) -> Tensor:
        """Stack the per-slot member labels into ``(B, M, K)`` targets."""
        sample = data_samples[0]
        if 'member_gt_label' not in sample:
            raise KeyError(
                'MultiHeadClsHead.loss needs the member labels written by '
                "MixMoDataPreprocessor: set model.data_preprocessor.type="
                "'MixMoDataPreprocessor'")
        device = masks.device
        gt = torch.stack([s.member_gt_label for s in data_samples]).to(device)
        if gt.size(1) != self.num_members:
            raise ValueError(
                f'the data preprocessor built {gt.size(1)} members but '
                f'model.head.num_members is {self.num_members}')
        if 'member_mix_label' in sample:
            mix = torch.stack([s.member_mix_label
                               for s in data_samples]).to(device)
            pixel = torch.stack([s.member_pixel_mask
                                 for s in data_samples]).to(device)
        else:
            mix = gt
            pixel = masks.new_ones(gt.shape + (1, 1))
        return member_soft_targets(gt, mix, pixel, masks, self.num_classes)

    def predict(
        self,
        feats: Tuple[Tensor],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Ensemble prediction: softmax of the mean of the head logits.

        Args:
            feats (tuple[Tensor]): Neck outputs, last of shape
                ``(B, in_channels)``.
            data_samples (list[DataSample | None], optional): Samples to
                write the predictions into; new ones are made when None.

        Returns:
            list[DataSample]: Samples with ``pred_score`` ``(K, )``,
            ``pred_label`` and ``head_logits`` ``(M, K)``.
        """
        logits = self(feats).float()
        scores = F.softmax(logits.mean(dim=1), dim=1)
        labels = scores.argmax(dim=1, keepdim=True).detach()
        if data_samples is None:
            data_samples = [None] * logits.size(0)
        results = []
        for sample, score, label, head_logits in zip(data_samples, scores,
                                                     labels, logits):
            sample = DataSample() if sample is None else sample
            sample.set_pred_score(score).set_pred_label(label)
            sample.set_field(head_logits.detach(), 'head_logits')
            results.append(sample)
        return results
