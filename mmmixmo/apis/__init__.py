from .calibrate import calibrate_checkpoint, fit_calibration
from .export import export_model, load_mixmo
from .onnx_classifier import OnnxClassifier, OnnxModelError
from .prediction_pipeline import (PredictionPipeline,
                                  checkpoint_channel_order,
                                  prediction_transforms)
from .predictor import collect_images, load_predictor, predict_files
from .runner_config import run_runner, runner_config
from .uncertainty_inferencer import UncertaintyInferencer, uncertainty_record

__all__ = [
    'calibrate_checkpoint', 'collect_images', 'export_model',
    'fit_calibration', 'load_mixmo', 'OnnxClassifier', 'OnnxModelError',
    'PredictionPipeline', 'UncertaintyInferencer', 'checkpoint_channel_order',
    'load_predictor', 'predict_files', 'prediction_transforms', 'run_runner',
    'runner_config', 'uncertainty_record'
]
