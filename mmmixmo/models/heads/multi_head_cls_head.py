"""M linear classifiers on a shared feature, with MixMo's weighted loss."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..utils.member_targets import member_soft_targets


def member_loss_weights(kappa: Tensor, r: float) -> Tensor:
    """MixMo's loss weights ``w_i = M kappa_i^(1/r) / sum_j kappa_j^(1/r)``.

    The member that owns more of the mixed feature weighs more; ``r = 1``
    gives ``M kappa_i``, ``r -> inf`` gives 1. Constants of the loss.

    Args:
        kappa (Tensor): Effective member shares ``(B, M)``.
        r (float): Re-weighting temperature (3 in the paper).

    Returns:
        Tensor: Float32 weights ``(B, M)``, each row summing to M.
    """
    with torch.no_grad():
        powered = kappa.float().clamp_min(0).pow(1.0 / r)
        total = powered.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return kappa.size(1) * powered / total


@MODELS.register_module()
class MultiHeadClsHead(ClsHead):
    """M linear heads on one pooled feature: head i classifies member i.

    The heads are one ``nn.Linear(in_channels, M * K)``. The loss is
    ``sum_i mean_b(w_bi CE(head_i, target_bi))`` (summed over heads, as the
    authors), logged per head as ``loss_head{i}``; the prediction is the
    ensemble, the softmax of the mean head logits, and keeps each sample's
    ``head_logits`` ``(M, K)``.

    Args:
        num_members (int): Number of members M.
        num_classes (int): Number of classes K.
        in_channels (int): Channels of the pooled feature.
        r (float): Loss re-weighting temperature, > 0 (see
            :func:`member_loss_weights`). Defaults to 3.
        loss (dict): A per-sample loss taking soft targets and ``weight``.
            Defaults to ``dict(type='CrossEntropyLoss', use_soft=True)``.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 num_members: int,
                 num_classes: int,
                 in_channels: int,
                 r: float = 3.0,
                 loss: dict = dict(type='CrossEntropyLoss', use_soft=True),
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01)) -> None:
        super().__init__(loss=loss, init_cfg=init_cfg)
        if not r > 0:
            raise ValueError(f'model.head.r must be > 0, got {r}')
        self.num_members = num_members
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.r = r
        self.fc = nn.Linear(in_channels, num_members * num_classes)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """The logits ``(B, M, K)`` of the last feature ``(B, C)``."""
        logits = self.fc(self.pre_logits(feats))
        return logits.view(-1, self.num_members, self.num_classes)

    def loss(self, feats: Tuple[Tensor], data_samples: List[DataSample],
             masks: Tensor) -> dict:
        """Weighted loss of a mixed batch.

        Args:
            feats (tuple[Tensor]): Neck outputs, the last ``(B, C)``.
            data_samples (list[DataSample]): The member labels written by
                ``MixMoDataPreprocessor``.
            masks (Tensor): The mixing block's masks ``(B, M, h, w)``.

        Returns:
            dict[str, Tensor]: ``loss_head{i}`` for every head.
        """
        logits = self(feats).float()  # float32 loss under autocast

        def stack(key: str) -> Tensor:
            return torch.stack([s.get(key) for s in data_samples]).to(
                masks.device)

        targets = member_soft_targets(
            stack('member_gt_label'), stack('member_mix_label'),
            stack('member_pixel_mask'), masks, self.num_classes)
        weights = member_loss_weights(masks.mean((2, 3)), self.r)
        return {
            f'loss_head{i}': self.loss_module(
                logits[:, i], targets[:, i], weight=weights[:, i])
            for i in range(self.num_members)
        }

    def predict(
        self,
        feats: Tuple[Tensor],
        data_samples: Optional[List[Optional[DataSample]]] = None
    ) -> List[DataSample]:
        """Ensemble prediction: ``pred_score``, ``pred_label`` and
        ``head_logits`` ``(M, K)`` on each sample."""
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
