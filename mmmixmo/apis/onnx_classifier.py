"""Run a model written by ``tools/deployment/export_mixmo.py --format onnx``.

Only numpy and ONNX Runtime: no PyTorch model code.
"""
import json
from typing import Dict, List, Optional

import numpy as np


class OnnxClassifier:
    """An ONNX Runtime session on an exported MixMo model and its metadata.

    Args:
        path (str): The ``.onnx`` file: input ``inputs`` ``(B, 3, H, W)``
            raw 0-255 pixels, outputs ``scores`` ``(B, K)`` and optionally
            ``member_logits`` ``(B, M, K)``.
        providers (list[str], optional): ONNX Runtime execution providers.
            Defaults to ``['CPUExecutionProvider']``.

    Attributes:
        classes (list[str] | None): The class names.
        input_size (tuple[int, int] | None): The export's ``(H, W)``.
        average (str | None): ``'logits'`` or ``'probs'``.
        num_members (int | None): M, or None without the member logits.
    """

    def __init__(self,
                 path: str,
                 providers: Optional[List[str]] = None) -> None:
        import onnxruntime  # optional: pip install mmmixmo[onnx]
        self.session = onnxruntime.InferenceSession(
            path, providers=providers or ['CPUExecutionProvider'])
        meta = self.session.get_modelmeta().custom_metadata_map
        classes = json.loads(meta.get('classes', 'null'))
        size = json.loads(meta.get('input_size', 'null'))
        self.classes = None if classes is None else list(classes)
        self.input_size = None if size is None else tuple(size)
        self.average = meta.get('average')
        self.output_names = [o.name for o in self.session.get_outputs()]
        members = {o.name: o.shape
                   for o in self.session.get_outputs()}.get('member_logits')
        self.num_members = None if members is None else int(members[1])

    def __call__(self, images: np.ndarray) -> Dict[str, np.ndarray]:
        """Classify a batch.

        Args:
            images (np.ndarray): ``(B, 3, H, W)`` raw 0-255 pixels in the
                dataset's channel order (BGR for ``LoadImageFromFile``).

        Returns:
            dict[str, np.ndarray]: ``scores`` ``(B, K)`` and, if exported
            with the heads, ``member_logits`` ``(B, M, K)``.
        """
        images = np.ascontiguousarray(images, dtype=np.float32)
        if images.ndim != 4:
            raise ValueError(f'images must be (B, C, H, W), got shape '
                             f'{images.shape}')
        outputs = self.session.run(self.output_names, {'inputs': images})
        return dict(zip(self.output_names, outputs))
