from .calibrate import calibrate_checkpoint, fit_calibration
from .onnx_classifier import OnnxClassifier, OnnxModelError
from .prediction_pipeline import (PredictionPipeline,
                                  checkpoint_channel_order,
                                  prediction_transforms)
from .predictor import load_predictor, predict_files
from .uncertainty_inferencer import UncertaintyInferencer, uncertainty_record

__all__ = [
    'calibrate_checkpoint', 'fit_calibration', 'OnnxClassifier',
    'OnnxModelError', 'PredictionPipeline',
    'UncertaintyInferencer', 'checkpoint_channel_order', 'load_predictor',
    'predict_files', 'prediction_transforms', 'uncertainty_record'
]
