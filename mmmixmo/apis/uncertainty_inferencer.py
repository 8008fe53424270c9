"""mmpretrain's image classification inferencer, plus members and uncertainty.
"""
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmpretrain.apis import ImageClassificationInferencer
from mmpretrain.structures import DataSample

from ..evaluation.functional.uncertainty import uncertainty_scores

ArrayLike = Union[np.ndarray, torch.Tensor]


def uncertainty_record(scores: ArrayLike,
                       member_logits: Optional[ArrayLike] = None,
                       classes: Optional[Sequence[str]] = None) -> dict:
    """The prediction of one image with its members' and its uncertainty.

    Args:
        scores (np.ndarray | Tensor): The ensemble probabilities ``(K, )``
            (``pred_score``).
        member_logits (np.ndarray | Tensor, optional): The members' logits
            ``(M, K)`` (``head_logits``). Defaults to None (one network).
        classes (Sequence[str], optional): The class names. Defaults to None.

    Returns:
        dict: ``pred_label`` (int), ``pred_score`` (float), ``pred_class``
        (with ``classes``), ``member_labels`` (M ints) and
        ``member_classes`` (with ``classes``) with ``member_logits``, and
        ``uncertainty``: score name -> float, ``max_prob`` and ``entropy``,
        plus ``mutual_information`` and ``disagreement`` when ``M >= 2``
        (see :func:`uncertainty_scores`).
    """
    probs = torch.as_tensor(scores).detach().cpu().double().reshape(-1)
    label = int(probs.argmax())
    record = dict(pred_label=label, pred_score=float(probs[label]))
    if classes is not None:
        record['pred_class'] = classes[label]
    member_probs = None
    if member_logits is not None:
        logits = torch.as_tensor(member_logits).detach().cpu().double()
        if logits.dim() != 2 or logits.size(1) != probs.numel():
            raise ValueError(f'member_logits must be (M, {probs.numel()}), '
                             f'got {tuple(logits.shape)}')
        member_labels = logits.argmax(1).tolist()
        record['member_labels'] = member_labels
        if classes is not None:
            record['member_classes'] = [classes[i] for i in member_labels]
        if logits.size(0) >= 2:
            member_probs = F.softmax(logits, dim=1)[None]
    record['uncertainty'] = {
        name: float(value[0])
        for name, value in uncertainty_scores(probs[None],
                                              member_probs).items()
    }
    return record


class UncertaintyInferencer(ImageClassificationInferencer):
    """:class:`ImageClassificationInferencer` with the members' predictions.

    Same arguments and results; every result dict also has
    ``member_labels``, ``member_classes`` (when the classes are known) and
    ``uncertainty`` (see :func:`uncertainty_record`). The members are the
    ``head_logits`` ``(M, K)`` that MixMo models and deep ensembles write;
    a single network's results have ``uncertainty`` only.

    Example:
        >>> from mmmixmo.apis import UncertaintyInferencer
        >>> inferencer = UncertaintyInferencer(
        ...     'configs/quickstart/cut-mixmo_wrn16-1_1xb64-b2_digits.py',
        ...     pretrained='work_dirs/cut-mixmo_wrn16-1_1xb64-b2_digits/'
        ...     'epoch_12.pth', device='cpu')
        >>> inferencer('digit.png')[0]['uncertainty']
        {'max_prob': ..., 'entropy': ..., 'mutual_information': ...,
         'disagreement': ...}
    """

    def postprocess(self,
                    preds: List[DataSample],
                    visualization: List[np.ndarray],
                    return_datasamples: bool = False) -> list:
        """Add the members and the uncertainty to mmpretrain's results."""
        results = super().postprocess(preds, visualization,
                                      return_datasamples)
        if return_datasamples:
            return results
        for result, sample in zip(results, preds):
            heads = sample.get('head_logits')
            result.update(
                uncertainty_record(sample.pred_score, heads, self.classes))
        return results
