"""Test-time augmentation that also merges the heads' predictions."""
from typing import List

import torch
from mmpretrain.models.tta import AverageClsScoreTTA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class EnsembleScoreTTA(AverageClsScoreTTA):
    """``AverageClsScoreTTA`` whose other fields follow the merged score.

    Upstream keeps the first view's ``pred_label``, ``member_logits`` and
    ``ensemble_logits``, which the calibration and diversity metrics read.
    Here ``pred_label`` is the merged score's argmax, ``ensemble_logits`` its
    log, and ``member_logits`` (M, K) the log of each head's probabilities
    averaged over the views.
    """

    def _merge_single_sample(self,
                             data_samples: List[DataSample]) -> DataSample:
        if 'pred_set' in data_samples[0]:
            raise ValueError(
                'test-time augmentation of a model with conformal sets '
                '(model.calibration.conformal): the sets were calibrated on '
                'single-view predictions and would lose their coverage '
                'guarantee; test without --tta')
        merged = super()._merge_single_sample(data_samples)
        merged.set_pred_label(merged.pred_score.argmax(dim=-1, keepdim=True))
        tiny = torch.finfo(merged.pred_score.dtype).tiny
        merged.set_field(
            merged.pred_score.clamp_min(tiny).log(), 'ensemble_logits')
        if 'member_logits' in data_samples[0]:
            probs = [s.member_logits.float().softmax(-1) for s in data_samples]
            merged.set_field(
                torch.stack(probs).mean(0).clamp_min(tiny).log(),
                'member_logits')
        return merged
