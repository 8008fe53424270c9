"""Run a model written by ``tools/deployment/export_mixmo.py --format onnx``.

ONNX Runtime and mmpretrain's image transforms: no PyTorch model code.
"""
import json
from typing import Dict, List, Optional

import numpy as np

from .prediction_pipeline import PredictionPipeline
from .uncertainty_inferencer import uncertainty_record

#: metadata the export writes and prediction needs
REQUIRED_METADATA = ('classes', 'input_size', 'channel_order', 'transforms')
#: largest allowed deviation of a probability row from [0, 1] and sum 1
PROB_TOLERANCE = 1e-4
HOW_TO_EXPORT = ('write one with python tools/deployment/export_mixmo.py '
                 'CONFIG CHECKPOINT --format onnx --heads --out MODEL.onnx')


class OnnxModelError(ValueError):
    """An ONNX file that is not a valid export of mmmixmo."""


def check_probabilities(scores: np.ndarray, source: str) -> None:
    """Raise :class:`OnnxModelError` unless every row of ``scores``
    ``(B, K)`` is in [0, 1] and sums to 1 (within :data:`PROB_TOLERANCE`)."""
    sums = scores.sum(1)
    valid = ((scores >= -PROB_TOLERANCE) & (scores <= 1 + PROB_TOLERANCE)
             ).all(1) & (np.abs(sums - 1) <= PROB_TOLERANCE)
    if not valid.all():
        row = int(np.flatnonzero(~valid)[0])
        raise OnnxModelError(
            f'{source}: the output scores are not probabilities (row {row}: '
            f'min {scores[row].min():.4g}, max {scores[row].max():.4g}, sum '
            f'{sums[row]:.6g}; want values in [0, 1] summing to 1 within '
            f'{PROB_TOLERANCE:g}); {HOW_TO_EXPORT}')


class OnnxClassifier:
    """An ONNX Runtime session on an exported MixMo model, checked.

    The file must carry the export's metadata (``producer=mmmixmo``,
    :data:`REQUIRED_METADATA`) and its input size must be the graph's; on a
    probe image at load time and on every batch, the class list must match
    the width of the outputs and ``scores`` must be probabilities.

    Args:
        path (str): The ``.onnx`` file: input ``inputs`` ``(B, 3, H, W)``
            raw 0-255 pixels, outputs ``scores`` ``(B, K)`` (calibrated),
            optionally ``member_logits`` ``(B, M, K)``, ``logits``
            ``(B, K)`` (of the energy and max-logit scores; older exports
            have none) and ``sets`` ``(B, K)`` bool (required when the
            ``calibration`` metadata is conformal).
        providers (list[str], optional): ONNX Runtime execution providers.
            Defaults to ``['CPUExecutionProvider']``.

    Attributes:
        classes (list[str] | None): The class names (None if the export
            knew none).
        input_size (tuple[int, int]): The graph's ``(H, W)``.
        channel_order (str): ``'bgr'`` or ``'rgb'``, of the training images.
        pipeline (PredictionPipeline): Files and arrays to the graph's input.
        average (str | None): ``'logits'`` or ``'probs'``.
        calibration (dict | None): The exported model's
            ``model.calibration`` (``temperature``, ``conformal``), None if
            it had none or the export is older.
        num_members (int | None): M, or None without the member logits.

    Raises:
        OnnxModelError: If the file fails a check; the message says what is
            wrong and how to write a good file.
    """

    def __init__(self,
                 path: str,
                 providers: Optional[List[str]] = None) -> None:
        import onnxruntime  # optional: pip install mmmixmo[onnx]
        self.path = path
        self.session = onnxruntime.InferenceSession(
            path, providers=providers or ['CPUExecutionProvider'])
        meta = self.session.get_modelmeta().custom_metadata_map
        problems = [] if meta.get('producer') == 'mmmixmo' else [
            'no producer=mmmixmo metadata'
        ]
        missing = [key for key in REQUIRED_METADATA if key not in meta]
        if missing:
            problems.append(f'missing metadata: {", ".join(missing)}')
        if problems:
            raise OnnxModelError(
                f'{path} is not a file of mmmixmo\'s ONNX export '
                f'({"; ".join(problems)}): prediction needs the class names, '
                'input size, channel order and image transforms that the '
                f'export records; {HOW_TO_EXPORT}')
        classes = json.loads(meta['classes'])
        self.classes = None if classes is None else list(classes)
        self.input_size = tuple(json.loads(meta['input_size']))
        self.channel_order = meta['channel_order']
        self.average = meta.get('average')
        self.calibration = json.loads(meta.get('calibration', 'null'))
        self.pipeline = PredictionPipeline(
            json.loads(meta['transforms']), self.channel_order)
        self._check_graph()
        self(np.full((1, 3, *self.input_size), 128, np.float32))  # probe

    def _check_graph(self) -> None:
        """The graph's input and output names, its input size and its sets
        against the metadata."""
        inputs = {i.name: i.shape for i in self.session.get_inputs()}
        outputs = {o.name: o.shape for o in self.session.get_outputs()}
        self.output_names = list(outputs)
        problem = None
        if list(inputs) != ['inputs'] or 'scores' not in outputs:
            problem = (f'input(s) {list(inputs)} and output(s) '
                       f'{list(outputs)}, not inputs -> scores')
        elif list(inputs['inputs'][1:]) != [3, *self.input_size]:
            problem = (f'input shape {inputs["inputs"]} against the metadata '
                       f'input_size {list(self.input_size)}')
        if problem:
            raise OnnxModelError(f'{self.path}: {problem}; {HOW_TO_EXPORT}')
        conformal = (self.calibration or {}).get('conformal')
        if conformal is not None and 'sets' not in outputs:
            problem = (f'the calibration metadata is conformal ({conformal})'
                       ' but the graph has no output sets')
        elif conformal is None and 'sets' in outputs:
            problem = ('the graph outputs sets but the calibration metadata '
                       f'is not conformal ({self.calibration})')
        if problem:
            raise OnnxModelError(f'{self.path}: {problem}; {HOW_TO_EXPORT}')
        members = outputs.get('member_logits')
        self.num_members = None if members is None else int(members[1])

    def __call__(self, images: np.ndarray) -> Dict[str, np.ndarray]:
        """Classify a batch.

        Args:
            images (np.ndarray): ``(B, 3, H, W)`` raw 0-255 pixels of the
                graph's size, in ``channel_order`` (see ``pipeline``).

        Returns:
            dict[str, np.ndarray]: ``scores`` ``(B, K)`` (checked to be
            probabilities), ``member_logits`` ``(B, M, K)`` if exported with
            the heads, ``logits`` ``(B, K)`` unless the export is older and
            ``sets`` ``(B, K)`` bool if conformal.
        """
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.ndim != 4:
            raise ValueError(f'images must be (B, C, H, W), got shape '
                             f'{images.shape}')
        outputs = dict(
            zip(self.output_names,
                self.session.run(self.output_names, {'inputs': images})))
        if self.classes is not None:
            wrong = [
                f'{len(self.classes)} classes in the metadata, output {name} '
                f'has {output.shape[-1]}' for name, output in outputs.items()
                if output.shape[-1] != len(self.classes)
            ]
            if wrong:
                raise OnnxModelError(
                    f'{self.path}: {"; ".join(wrong)}; {HOW_TO_EXPORT}')
        check_probabilities(outputs['scores'], self.path)
        return outputs

    def predict_arrays(self, images: np.ndarray) -> List[dict]:
        """:func:`uncertainty_record` of each image of a batch.

        Args:
            images (np.ndarray): ``(B, 3, H, W)``, as ``pipeline`` gives
                them.

        Returns:
            list[dict]: B records, with ``pred_set`` if conformal and the
            energy and max-logit scores with ``logits``.
        """
        outputs = self(images)
        rows = [{name: output[i] for name, output in outputs.items()}
                for i in range(len(outputs['scores']))]
        return [
            uncertainty_record(row['scores'], row.get('member_logits'),
                               self.classes, row.get('sets'),
                               row.get('logits')) for row in rows
        ]
