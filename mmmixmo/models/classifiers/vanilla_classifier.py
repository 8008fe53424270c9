"""A single network whose predictions carry their logits, calibrated."""
from typing import List, Optional

from mmpretrain.models.classifiers import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..utils.post_hoc_calibration import build_calibration


@MODELS.register_module()
class VanillaClassifier(ImageClassifier):
    """mmpretrain's ``ImageClassifier`` with the outputs of a MixMo model.

    Same weights, training and scores as ``ImageClassifier``; its
    predictions also carry ``ensemble_logits`` ``(K, )`` (float64, the head's
    logits: the calibration metrics and the energy and max-logit OOD scores
    read them; a head that writes them, as ``MultiHeadClsHead`` in a folded
    MixMo model with its heads kept, keeps its own) and are calibrated by
    ``calibration``.

    Args:
        calibration (dict, optional): The temperature and conformal sets
            applied to the predictions (:class:`PostHocCalibration`, written
            by ``tools/calibrate.py``). Defaults to None.
        **kwargs: ``ImageClassifier``'s arguments.
    """

    def __init__(self, calibration: Optional[dict] = None, **kwargs) -> None:
        calibration = build_calibration(calibration)
        super().__init__(**kwargs)
        self.calibration = calibration

    def predict(self,
                inputs: Tensor,
                data_samples: Optional[List[DataSample]] = None,
                **kwargs) -> List[DataSample]:
        """The head's predictions with their logits, calibrated."""
        feats = self.extract_feat(inputs)
        samples = self.head.predict(feats, data_samples, **kwargs)
        if 'ensemble_logits' not in samples[0]:  # a MultiHeadClsHead has
            for sample, logits in zip(samples, self.head(feats).detach()):
                sample.set_field(logits.double(), 'ensemble_logits')
        if self.calibration is None:
            return samples
        return self.calibration.calibrate_samples(samples)
