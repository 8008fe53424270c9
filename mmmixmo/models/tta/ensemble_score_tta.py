"""Test-time augmentation that keeps the ensemble fields consistent."""
from typing import List

import torch
from mmpretrain.models.tta import AverageClsScoreTTA
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample


@MODELS.register_module()
class EnsembleScoreTTA(AverageClsScoreTTA):
    """Average the class scores of the augmented views, heads included.

    mmpretrain's ``AverageClsScoreTTA`` averages ``pred_score`` over the
    views and keeps every other field of the first view, ``pred_label``
    included; this merger sets ``pred_label`` from the merged score. For
    MixMo models (and :class:`~mmmixmo.models.classifiers.EnsembleClassifier`)
    the upstream merger would also keep ``head_logits`` / ``ensemble_logits``
    of one view, which ``CalibrationMetric`` and ``EnsembleDiversityMetric``
    read, so the metrics would score the first view instead of the TTA
    prediction. This merger therefore averages each head's probabilities
    over the views and stores their log as that head's ``head_logits``, and
    stores
    ``ensemble_logits = log(pred_score)`` (whose softmax is the merged
    ``pred_score``). For single-head models only ``ensemble_logits`` is
    added. ``tools/test.py --tta`` uses it unless the config sets
    ``tta_model``.

    Args:
        module (dict | nn.Module): The wrapped classifier.
    """

    def _merge_single_sample(self,
                             data_samples: List[DataSample]) -> DataSample:
        """Merge the predictions of the views of one image.

        Args:
            data_samples (list[DataSample]): The views' predictions.

        Returns:
            DataSample: ``pred_score`` averaged over the views, its
            ``pred_label``, ``ensemble_logits`` ``(K, )`` and, if the views
            carry ``head_logits`` ``(M, K)``, their per-head average in
            probability space as log-probabilities.
        """
        merged = super()._merge_single_sample(data_samples)
        # upstream keeps the first view's label: use the merged score's
        merged.set_pred_label(merged.pred_score.argmax(dim=-1, keepdim=True))
        tiny = torch.finfo(merged.pred_score.dtype).tiny
        merged.set_field(
            merged.pred_score.clamp_min(tiny).log(), 'ensemble_logits')
        if 'head_logits' in data_samples[0]:
            head_probs = torch.stack([
                sample.head_logits.float().softmax(dim=-1)
                for sample in data_samples
            ]).mean(dim=0)
            merged.set_field(
                head_probs.clamp_min(tiny).log(), 'head_logits')
        return merged
