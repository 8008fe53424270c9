from .onnx_classifier import OnnxClassifier
from .uncertainty_inferencer import UncertaintyInferencer, uncertainty_record

__all__ = ['OnnxClassifier', 'UncertaintyInferencer', 'uncertainty_record']
