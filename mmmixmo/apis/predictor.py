"""Predict image files with a config and checkpoint or an ``.onnx`` file,
reporting the files that cannot be read instead of stopping on them."""
from typing import List, Optional, Sequence, Tuple, Union

from .onnx_classifier import OnnxClassifier
from .prediction_pipeline import PredictionPipeline
from .uncertainty_inferencer import UncertaintyInferencer

Predictor = Union[UncertaintyInferencer, OnnxClassifier]


def load_predictor(model: str,
                   checkpoint: Optional[str] = None,
                   device: str = 'cpu',
                   partial_load: bool = False) -> Predictor:
    """An :class:`OnnxClassifier` for an ``.onnx`` file, else an
    :class:`UncertaintyInferencer` of the config and checkpoint.

    Args:
        model (str): A config file or an ``.onnx`` file.
        checkpoint (str, optional): The checkpoint of the config.
        device (str): The PyTorch device. Defaults to ``'cpu'``.
        partial_load (bool): See :class:`UncertaintyInferencer`.

    Returns:
        UncertaintyInferencer | OnnxClassifier: Both have ``pipeline`` and
        ``predict_arrays``.
    """
    if model.endswith('.onnx'):
        return OnnxClassifier(model)
    return UncertaintyInferencer(
        model, pretrained=checkpoint, device=device,
        partial_load=partial_load)


def predict_files(
        predictor: Predictor,
        paths: Sequence[str]) -> Tuple[List[dict], List[Tuple[str, str]]]:
    """Predict the files that can be read in one batch, report the others.

    Args:
        predictor (UncertaintyInferencer | OnnxClassifier): The model.
        paths (Sequence[str]): Image files.

    Returns:
        tuple[list[dict], list[tuple[str, str]]]: The records of the
        readable files in order (``file`` and the keys of
        :func:`uncertainty_record`), and ``(path, reason)`` of the files
        that cannot be read or decoded.
    """
    images, kept, failures = [], [], []
    for path in paths:
        try:
            images.append(predictor.pipeline(path))
            kept.append(path)
        except (OSError, ValueError) as error:
            failures.append((path, str(error)))
    records = predictor.predict_arrays(
        PredictionPipeline.stack(images)) if images else []
    return [dict(file=path, **r) for path, r in zip(kept, records)], failures
