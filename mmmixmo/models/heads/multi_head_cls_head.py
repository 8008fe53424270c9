"""M linear classifiers on a shared feature, with MixMo's weighted loss."""
from typing import List, Optional, Tuple

import torch
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..utils.ensemble_average import AVERAGES, ensemble_average
from ..utils.member_loss import member_loss_weights, member_soft_targets


@MODELS.register_module()
class MultiHeadClsHead(ClsHead):
    """M linear heads on one pooled feature: head i classifies member i.

    The heads are one ``nn.Linear(in_channels, M * K)``. The loss is
    ``sum_i mean_b(w_bi CE(head_i, target_bi))`` (summed over heads, as the
    authors), logged per head as ``loss_head{i}``. The prediction is the
    ensemble (:func:`ensemble_average`): ``ensemble_logits`` ``(K, )``
    (float64, for the calibration metrics), their softmax ``pred_score``,
    and each head's ``member_logits`` ``(M, K)``.

    Args:
        num_members (int): Number of members M.
        num_classes (int): Number of classes K.
        in_channels (int): Channels of the pooled feature.
        r (float): Loss re-weighting temperature, > 0 (see
            :func:`member_loss_weights`). Defaults to 3.
        loss (dict): A per-sample loss taking soft targets and ``weight``.
            Defaults to ``dict(type='CrossEntropyLoss', use_soft=True)``.
        average (str): The ensemble: ``'logits'``, the softmax of the mean
            head logits (the MixMo authors), or ``'probs'``, the mean of the
            heads' probabilities (MIMO). Defaults to ``'logits'``.
        init_cfg (dict, optional): Initialization config.
    """

    def __init__(self,
                 num_members: int,
                 num_classes: int,
                 in_channels: int,
                 r: float = 3.0,
                 loss: dict = dict(type='CrossEntropyLoss', use_soft=True),
                 average: str = 'logits',
                 init_cfg: Optional[dict] = dict(
                     type='Normal', layer='Linear', std=0.01)) -> None:
        super().__init__(loss=loss, init_cfg=init_cfg)
        if not r > 0:
            raise ValueError(f'model.head.r must be > 0, got {r}')
        if average not in AVERAGES:
            raise ValueError(f'model.head.average must be one of {AVERAGES}'
                             f', got {average!r}')
        self.num_members = num_members
        self.num_classes = num_classes
        self.r = r
        self.average = average
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
        """The ensemble prediction of every sample (see the class)."""
        logits = self(feats).float().detach()
        # float64 for the metrics
        scores, ensemble = ensemble_average(logits.double(), self.average)
        scores = scores.float()
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [None] * logits.size(0)
        results = []
        for sample, score, label, heads, mean in zip(data_samples, scores,
                                                     labels, logits, ensemble):
            sample = DataSample() if sample is None else sample
            sample.set_pred_score(score).set_pred_label(label)
            sample.set_field(heads, 'member_logits')
            sample.set_field(mean, 'ensemble_logits')
            results.append(sample)
        return results
