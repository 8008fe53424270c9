"""Predict image files with a config and checkpoint or an ``.onnx`` file,
reporting the files that cannot be read instead of stopping on them."""
import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

from mmengine.utils import scandir

from .onnx_classifier import OnnxClassifier
from .prediction_pipeline import PredictionPipeline
from .uncertainty_inferencer import UncertaintyInferencer

Predictor = Union[UncertaintyInferencer, OnnxClassifier]
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


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


def collect_images(inputs: Sequence[str]) -> List[str]:
    """The image paths of files, folders (recursive, sorted) and ``.txt``
    lists (one path a line, relative to the list's folder).

    Raises:
        ValueError: For a missing file or folder, a folder without images or
            a list of missing files; the message starts with ``INPUTS:``.
    """
    images = []
    for item in inputs:
        if osp.isdir(item):
            found = sorted(
                osp.join(item, name) for name in scandir(
                    item, IMG_EXTENSIONS, recursive=True,
                    case_sensitive=False))
            if not found:
                raise ValueError(f'INPUTS: no image in the folder {item}')
            images += found
        elif item.endswith('.txt') and osp.isfile(item):
            with open(item) as file:
                listed = [osp.join(osp.dirname(item), line.strip())
                          for line in file if line.strip()]
            missing = [path for path in listed if not osp.isfile(path)]
            if missing:
                raise ValueError(f'INPUTS: {item} lists missing files: '
                                 f'{", ".join(missing[:3])}')
            images += listed
        elif osp.isfile(item):
            images.append(item)
        else:
            raise ValueError(f'INPUTS: no such file or folder: {item}')
    return images
