"""mmpretrain's image classification inferencer, plus members and uncertainty,
strict checkpoint loading and the images brought to the model's input as its
training did.
"""
from typing import Iterator, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.model import BaseModel
from mmpretrain.apis import ImageClassificationInferencer, get_model
from mmpretrain.structures import DataSample

from ..evaluation.functional.uncertainty import (ood_logits,
                                                 uncertainty_scores)
from ..utils.checkpoint_loading import load_checkpoint_checked
from .prediction_pipeline import (ImageInput, PredictionPipeline,
                                  checkpoint_channel_order,
                                  prediction_transforms)

ArrayLike = Union[np.ndarray, torch.Tensor]


def uncertainty_record(scores: ArrayLike,
                       member_logits: Optional[ArrayLike] = None,
                       classes: Optional[Sequence[str]] = None,
                       pred_set: Optional[ArrayLike] = None,
                       logits: Optional[ArrayLike] = None) -> dict:
    """The prediction of one image with its members' and its uncertainty.

    Args:
        scores (np.ndarray | Tensor): The ensemble probabilities ``(K, )``
            (``pred_score``, calibrated).
        member_logits (np.ndarray | Tensor, optional): The members' logits
            ``(M, K)``. Defaults to None (one network).
        classes (Sequence[str], optional): The class names. Defaults to None.
        pred_set (np.ndarray | Tensor, optional): The conformal set ``(K, )``
            bool (``pred_set`` of a conformal model). Defaults to None.
        logits (np.ndarray | Tensor, optional): The logits of the energy and
            max-logit scores ``(K, )`` (:func:`ood_logits`). Defaults to
            None.

    Returns:
        dict: ``pred_label`` (int), ``pred_score`` (float), ``pred_class``
        (with ``classes``), ``member_labels`` (M ints) and
        ``member_classes`` (with ``classes``) with ``member_logits``,
        ``pred_set`` (the set's class indices by decreasing probability,
        ties by index; may be empty) and ``pred_set_classes`` (with
        ``classes``) with ``pred_set``, and ``uncertainty``: score name ->
        float, ``max_prob`` and ``entropy``, plus ``mutual_information`` and
        ``disagreement`` when ``M >= 2``, ``energy`` and ``max_logit`` with
        ``logits`` (see :func:`uncertainty_scores`).

    Raises:
        ValueError: If the scores, member logits or logits hold NaN or inf,
            or an input does not have the shape of ``scores``.
    """
    probs = torch.as_tensor(scores).detach().cpu().double().reshape(-1)
    if not all(
            torch.isfinite(torch.as_tensor(x)).all()
            for x in (scores, member_logits, logits) if x is not None):
        raise ValueError('the model predicts NaN or inf: its weights are '
                         'broken (a diverged training?)')
    num_classes = probs.numel()
    label = int(probs.argmax())
    record = dict(pred_label=label, pred_score=float(probs[label]))
    if classes is not None:
        record['pred_class'] = classes[label]
    member_probs = None
    if member_logits is not None:
        heads = torch.as_tensor(member_logits).detach().cpu().double()
        if heads.dim() != 2 or heads.size(1) != num_classes:
            raise ValueError(f'member_logits must be (M, {num_classes}), '
                             f'got {tuple(heads.shape)}')
        member_labels = heads.argmax(1).tolist()
        record['member_labels'] = member_labels
        if classes is not None:
            record['member_classes'] = [classes[i] for i in member_labels]
        if heads.size(0) >= 2:
            member_probs = F.softmax(heads, dim=1)[None]
    if pred_set is not None:
        mask = _vector(pred_set, 'pred_set', num_classes).bool()
        members = mask.nonzero().flatten()
        # stable: equal probabilities stay in class order
        order = probs[members].sort(descending=True, stable=True).indices
        record['pred_set'] = members[order].tolist()
        if classes is not None:
            record['pred_set_classes'] = [
                classes[i] for i in record['pred_set']
            ]
    if logits is not None:
        logits = _vector(logits, 'logits', num_classes).double()[None]
    record['uncertainty'] = {
        name: float(value[0])
        for name, value in uncertainty_scores(probs[None], member_probs,
                                              logits).items()
    }
    return record


def _vector(value: ArrayLike, name: str, num_classes: int) -> torch.Tensor:
    """``value`` as a CPU tensor ``(K, )``, or an error naming it."""
    value = torch.as_tensor(value).detach().cpu()
    if tuple(value.shape) != (num_classes, ):
        raise ValueError(f'{name} must be ({num_classes}, ) like the scores, '
                         f'got {tuple(value.shape)}')
    return value


class UncertaintyInferencer(ImageClassificationInferencer):
    """:class:`ImageClassificationInferencer` with the members' predictions,
    strict checkpoint loading and training's view of the images.

    Same arguments and results as mmpretrain's, with these differences:

    - Every result dict also has ``member_labels``, ``member_classes`` (when
      the classes are known) and ``uncertainty`` (see
      :func:`uncertainty_record`). The members are the ``member_logits``
      ``(M, K)`` that MixMo models and deep ensembles write; a single
      network's results have ``uncertainty`` only. A conformal model's
      (``model.calibration``) also have ``pred_set`` and
      ``pred_set_classes``; models that write ``ensemble_logits`` (MixMo,
      deep ensembles, ``VanillaClassifier``) the ``energy`` and
      ``max_logit`` scores.
    - A checkpoint that does not fit the config exactly raises
      :class:`~mmmixmo.utils.CheckpointMismatchError` (mmpretrain warns and
      predicts with the layers that did not load left random), unless
      ``partial_load=True``. ``pretrained=True`` without a checkpoint to
      find raises too (mmpretrain warns and predicts with random weights).
    - Images go through :class:`PredictionPipeline`: files are decoded and
      converted to the channel order of the training images (the
      checkpoint's ``meta['channel_order']``, else the config's pipelines),
      arrays are taken as already in it; then a resize to the model's input
      size if the test pipeline sets none, then the test pipeline. Images of
      any size batch together.

    Args:
        model (BaseModel | str | Config): As mmpretrain's.
        pretrained (bool | str): The checkpoint; True: the config's
            ``load_from`` or the named model's weights; False: no loading.
            Defaults to True.
        device (str | torch.device, optional): As mmpretrain's.
        classes (Sequence[str], optional): As mmpretrain's.
        partial_load (bool): Load only the checkpoint's keys that fit the
            model, with a warning, instead of raising. Defaults to False.
        **kwargs: As mmpretrain's: ``device_map``, ``offload_folder``, and
            model config keys.

    Example:
        >>> from mmmixmo.apis import UncertaintyInferencer
        >>> inferencer = UncertaintyInferencer(
        ...     'configs/quickstart/cut-mixmo_wrn16-1_1xb64-b2_digits.py',
        ...     pretrained='work_dirs/cut-mixmo_wrn16-1_1xb64-b2_digits/'
        ...     'epoch_12.pth', device='cpu')
        >>> inferencer('digit.png')[0]['uncertainty']
        {'max_prob': ..., 'entropy': ..., 'mutual_information': ...,
         'disagreement': ..., 'energy': ..., 'max_logit': ...}
    """

    def __init__(self,
                 model: Union[BaseModel, str, Config],
                 pretrained: Union[bool, str] = True,
                 device: Union[str, torch.device, None] = None,
                 classes: Optional[Sequence[str]] = None,
                 partial_load: bool = False,
                 **kwargs) -> None:
        dispatch = {
            key: kwargs.pop(key)
            for key in ('device_map', 'offload_folder') if key in kwargs
        }
        if not isinstance(model, BaseModel):
            model = get_model(model, pretrained=False, **kwargs)
            if pretrained is True:
                pretrained = model._config.get('load_from') or getattr(
                    model._metainfo, 'weights', None)
                if not pretrained:
                    raise ValueError(
                        'pretrained=True: no checkpoint to load (the config '
                        'has no load_from); pass pretrained=CHECKPOINT, or '
                        'pretrained=False for the initial weights')
        meta, source = None, None
        if isinstance(pretrained, str):
            config = model._config.filename or 'the given config'
            meta = load_checkpoint_checked(
                model, pretrained, config, partial=partial_load,
                hint='partial_load=True (tools/predict.py: --partial-load) '
                'loads only the keys that fit').get('meta') or {}
            source = f'checkpoint {pretrained!r}'
            if 'dataset_meta' in meta:  # mmpretrain 1.x
                model._dataset_meta = meta['dataset_meta']
            elif 'CLASSES' in meta:  # mmcls 0.x
                model._dataset_meta = dict(classes=meta['CLASSES'])
        elif partial_load:
            raise ValueError('partial_load=True needs a checkpoint '
                             '(pretrained=CHECKPOINT)')
        self.channel_order = checkpoint_channel_order(meta, model._config,
                                                      source)
        super().__init__(
            model, pretrained=False, device=device, classes=classes,
            **dispatch)

    def _init_pipeline(self, cfg: Config) -> PredictionPipeline:
        """The :class:`PredictionPipeline` of ``cfg`` in the model's channel
        order."""
        return PredictionPipeline(
            prediction_transforms(cfg), self.channel_order)

    def preprocess(self,
                   inputs: List[ImageInput],
                   batch_size: int = 1) -> Iterator[dict]:
        """Batches ``dict(inputs=(B, 3, H, W) tensor)`` of the inputs
        through ``pipeline``; an unreadable file raises, naming it."""
        chunks = self._get_chunk_data(map(self.pipeline, inputs), batch_size)
        for chunk in chunks:
            yield dict(
                inputs=torch.from_numpy(PredictionPipeline.stack(chunk)))

    def predict_arrays(self, images: np.ndarray) -> List[dict]:
        """:func:`uncertainty_record` of each image of a batch.

        Args:
            images (np.ndarray): ``(B, 3, H, W)``, as ``pipeline`` gives
                them.

        Returns:
            list[dict]: B records (the results without ``pred_scores``).
        """
        results = self.postprocess(
            self.forward(dict(inputs=torch.from_numpy(images))), None)
        for result in results:
            del result['pred_scores']
        return results

    def postprocess(self,
                    preds: List[DataSample],
                    visualization: List[np.ndarray],
                    return_datasamples: bool = False) -> list:
        """Add the members, the set and the uncertainty to mmpretrain's
        results (the energy and max-logit scores of :func:`ood_logits`)."""
        results = super().postprocess(preds, visualization,
                                      return_datasamples)
        if return_datasamples or not preds:
            return results
        heads, ensemble = (
            torch.stack([s.get(key) for s in preds])
            if key in preds[0] else None
            for key in ('member_logits', 'ensemble_logits'))
        logits = ood_logits(heads, ensemble,
                            preds[0].get('temperature', 1.0))
        for i, (result, sample) in enumerate(zip(results, preds)):
            result.update(
                uncertainty_record(
                    sample.pred_score,
                    None if heads is None else heads[i], self.classes,
                    sample.get('pred_set'),
                    None if logits is None else logits[i]))
        return results
