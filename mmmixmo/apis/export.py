"""Fold a MixMo model into one network, write it for deployment (TorchScript,
``torch.export``, ONNX or an mmpretrain config and checkpoint), load it back
and check it against the MixMo model."""
import copy
import json
import os
import os.path as osp
import warnings
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import save_checkpoint
from mmpretrain import get_model
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from ..datasets.model_inputs import (innermost_dataset, input_size,
                                     pipeline_datasets, single_view,
                                     type_name)
from ..evaluation.functional.conformal import conformal_scores
from ..evaluation.functional.uncertainty import ood_logits
from ..models.classifiers import MixMoClassifier, fold_mixmo
from ..models.utils.ensemble_average import ensemble_average
from ..models.utils.post_hoc_calibration import PostHocCalibration
from ..utils.benchmark import num_params
from ..utils.checkpoint_loading import load_checkpoint_checked
from ..utils.config import build_model, model_config
from .prediction_pipeline import (checkpoint_channel_order,
                                  prediction_transforms)

#: the file suffix of each format (mmpretrain: NAME.py and NAME.pth)
SUFFIXES = dict(torchscript='.pt', export='.pt2', mmpretrain='', onnx='.onnx')
OPSET = 18


class Deployed(nn.Module):
    """A classifier from images ``(B, C, H, W)`` (raw 0-255 ones with
    ``with_preprocess``) to probabilities or ``logits`` ``(B, K)``, and with
    ``heads`` also the member logits ``(B, M, K)``.

    With ``calibration`` (the MixMo model's, see ``PostHocCalibration``),
    the ensemble logits are divided by its temperature: the probabilities
    are ``softmax(z / T)``, as the MixMo model predicts them. With
    ``ood_outputs`` (the ONNX graph) the outputs end with the logits of the
    energy and max-logit scores ``(B, K)``, the mean member logits divided
    by ``T`` (``ood_logits``), and with a conformal calibration the sets
    ``(B, K)`` bool.
    """

    def __init__(self,
                 classifier: nn.Module,
                 with_preprocess: bool,
                 logits: bool,
                 heads: bool = False,
                 calibration: Optional[PostHocCalibration] = None,
                 ood_outputs: bool = False) -> None:
        super().__init__()
        self.classifier, self.logits = classifier, logits
        self.with_preprocess, self.heads = with_preprocess, heads
        if calibration is not None and not ood_outputs:  # no sets to output
            calibration = PostHocCalibration(calibration.temperature)
        self.calibration, self.ood_outputs = calibration, ood_outputs

    def forward(self, inputs: Tensor) -> Union[Tensor, Tuple[Tensor, ...]]:
        if self.with_preprocess:
            inputs = self.classifier.data_preprocessor(
                dict(inputs=inputs))['inputs']
        member_logits = self.classifier(inputs, mode='tensor')
        if self.heads:
            scores, ensemble = ensemble_average(
                member_logits, self.classifier.head.average)
            mean = member_logits.mean(dim=1)
        else:  # the folded head is the mean of the member logits
            scores, ensemble, mean = None, member_logits, member_logits
        sets, temperature = None, 1.0
        if self.calibration is not None:
            ensemble, sets = self.calibration(ensemble)
            temperature, scores = self.calibration.temperature, None
        if scores is None:
            scores = ensemble.softmax(dim=1)
        outputs = [ensemble if self.logits else scores]
        outputs += [member_logits] * self.heads
        if self.ood_outputs:
            outputs += [mean / temperature] + [sets] * (sets is not None)
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


def load_mixmo(cfg: Config,
               checkpoint: str) -> Tuple[MixMoClassifier, dict]:
    """The ``MixMoClassifier`` of ``cfg`` with ``checkpoint`` loaded
    strictly, and the checkpoint's ``meta`` with its ``channel_order``.

    Raises:
        ValueError: If the model is not a ``MixMoClassifier``.
        CheckpointMismatchError: If the checkpoint does not fit the model.
    """
    model = build_model(cfg, 'export_mixmo')
    meta = dict(load_checkpoint_checked(
        model, checkpoint, cfg.filename or 'the given config',
        hint='export_mixmo.py loads strictly: a partially loaded network '
        'must never be deployed').get('meta') or {})
    meta['channel_order'] = checkpoint_channel_order(
        meta, cfg, f'checkpoint {checkpoint!r}')
    return model, meta


def export_options_error(fmt: str, with_preprocess: bool,
                         logits: bool) -> Optional[str]:
    """Why these options do not go together, else None."""
    if fmt == 'mmpretrain' and (with_preprocess or logits):
        return ('--with-preprocess and --logits are for torchscript, export '
                'and onnx')
    if fmt == 'onnx' and logits:
        return ('--logits is for torchscript and export: the onnx file '
                'outputs the probabilities `scores`')
    return None


@torch.no_grad()
def export_model(cfg: Config,
                 model: MixMoClassifier,
                 out: str,
                 fmt: str = 'torchscript',
                 heads: bool = False,
                 with_preprocess: bool = False,
                 logits: bool = False,
                 img_size: Optional[int] = None,
                 batch_size: int = 4,
                 atol: float = 1e-5,
                 seed: int = 0,
                 meta: Optional[dict] = None) -> dict:
    """Fold a MixMo model, write it, load it back and check it.

    The check batch is ``batch_size`` random raw images of ``seed``; the
    written model must predict what ``model`` predicts (its calibrated
    probabilities, or logits, and member logits) within ``atol``, and its
    conformal sets must be the model's but for the classes whose score is
    within ``atol`` of the threshold.

    Args:
        cfg (Config): The config of ``model``, its default scope set.
        model (MixMoClassifier): The model, e.g. of :func:`load_mixmo`.
        out (str): The file to write; ``'mmpretrain'``: the root of
            ``out``.py and ``out``.pth.
        fmt (str): A format of :data:`SUFFIXES`. Defaults to
            ``'torchscript'``.
        heads (bool): Keep the M heads: also output the member logits
            ``(B, M, K)``; mmpretrain: a ``MultiHeadClsHead``.
        with_preprocess (bool): Take raw 0-255 images, normalise inside
            (always for onnx).
        logits (bool): Output the ensemble logits, not the probabilities.
        img_size (int, optional): Side of the check images and of the onnx
            input. Defaults to None: :func:`input_size` of ``cfg``.
        batch_size (int): Images of the check. Defaults to 4.
        atol (float): Largest allowed difference to ``model``.
        seed (int): Seed of the check images. Defaults to 0.
        meta (dict, optional): The checkpoint's ``meta``, written with the
            mmpretrain checkpoint (and its channel order in the onnx file).

    Returns:
        dict: ``out``, ``files`` (written), ``module`` (the written network,
        loaded back; onnx: the exported :class:`Deployed`), ``img_size``
        (H, W), ``max_abs_diff``, ``params_mixmo``, ``params_folded``, and
        with conformal sets ``set_mismatches``, ``set_entries_skipped`` and
        ``set_entries``.

    Raises:
        ValueError: For options that do not go together, an input size that
            is not the test pipeline's, a model that does not fold without
            its heads, or a written model that fails the check (the files
            stay); the messages name the options of ``export_mixmo.py``.
    """
    problem = export_options_error(fmt, with_preprocess, logits)
    if problem:
        raise ValueError(problem)
    with_preprocess = with_preprocess or fmt == 'onnx'
    cfg = copy.deepcopy(cfg)
    try:  # the onnx file records how to bring images to its input
        size = (img_size, img_size) if img_size else input_size(cfg)
        transforms = (prediction_transforms(cfg, size)
                      if fmt == 'onnx' else None)
    except ValueError as error:
        raise ValueError(f'--img-size {img_size}: {error}'
                         if img_size else str(error)) from None
    meta = dict(meta or {})
    meta['channel_order'] = checkpoint_channel_order(meta, cfg, None)
    try:
        folded_cfg, weights = fold_mixmo(
            model_config(cfg), model.eval().state_dict(), keep_heads=heads)
    except ValueError as error:
        raise ValueError(f'{error}, or keep the heads with --heads') from None
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    gen = torch.Generator().manual_seed(seed)
    raw = torch.randint(0, 256, (batch_size, model.encoders.convs[0]
                                 .in_channels, *size), generator=gen).float()
    samples = model.test_step(dict(inputs=raw))  # calibrated

    def stack(key: str) -> Tensor:
        return torch.stack([s.get(key) for s in samples]).float()

    want = [stack('ensemble_logits' if logits else 'pred_score')]
    want += [stack('member_logits')] * heads
    sets = None  # of the folded model, if conformal
    if fmt == 'mmpretrain':
        root = osp.splitext(out)[0]
        files = [root + '.py', root + '.pth']
        folded = write_mmpretrain(cfg, folded_cfg, weights, meta, root)
        outputs = folded.test_step(dict(inputs=raw))
        got = [torch.stack([s.pred_score for s in outputs])]
        if heads:
            got.append(torch.stack([s.member_logits for s in outputs]))
        if 'pred_set' in outputs[0]:
            sets = torch.stack([s.pred_set for s in outputs])
    else:
        files = [out]
        classifier = MODELS.build(folded_cfg)
        classifier.load_state_dict(weights)
        inputs = raw if with_preprocess else model.data_preprocessor(
            dict(inputs=raw))['inputs']
        folded = Deployed(classifier.eval(), with_preprocess, logits, heads,
                          model.calibration, ood_outputs=fmt == 'onnx')
        if fmt == 'onnx':
            calibration = model.calibration and model.calibration.to_dict()
            metadata = dict(
                classes=json.dumps(dataset_classes(cfg, meta)),
                input_size=json.dumps(list(size)),
                channel_order=meta['channel_order'],
                transforms=json.dumps(transforms),
                average=model.head.average,
                calibration=json.dumps(calibration),
                producer='mmmixmo')
            # the batch of the check is not the example's: dynamic axis
            example = torch.cat([inputs, inputs[:1]])
            outputs = write_onnx(folded, example, out, metadata)(
                inputs.numpy())
            got = [torch.from_numpy(outputs[name]) for name in
                   ['scores'] + ['member_logits'] * heads + ['logits']]
            want.append(ood_logits(
                stack('member_logits'), stack('ensemble_logits'),
                samples[0].get('temperature', 1.0)).float())
            sets = outputs.get('sets')
            sets = None if sets is None else torch.from_numpy(sets)
        else:
            folded = write_traced(folded, inputs, fmt, out)
            got = folded(inputs)
    got = [got] if isinstance(got, Tensor) else got
    diff = max(
        float((g - w).abs().max()) for g, w in zip(got, want, strict=True))
    result = dict(out=out, files=files, module=folded, img_size=size,
                  max_abs_diff=diff, params_mixmo=num_params(model),
                  params_folded=num_params(folded))
    if sets is not None:
        result['set_mismatches'], result['set_entries_skipped'] = \
            set_mismatches(sets, samples, model.calibration, atol)
        result['set_entries'] = sets.numel()
    if not diff <= atol:
        raise ValueError(f'the folded model differs from the MixMo model by '
                         f'{diff:.3g} > --atol {atol:g}')
    if result.get('set_mismatches'):
        raise ValueError(f'the sets of the folded model differ from the '
                         f'MixMo model\'s in {result["set_mismatches"]} '
                         'entries farther than --atol from the threshold')
    return result


def write_mmpretrain(cfg: Config, folded_cfg: dict, weights: dict,
                     meta: dict, root: str) -> nn.Module:
    """Write ``root``.py and ``root``.pth, load them back (strictly)."""
    cfg.model = folded_cfg
    cfg.custom_hooks = [
        h for h in cfg.get('custom_hooks', [])
        if type_name(h) != 'MixingProbHook'
    ]
    if cfg.get('train_dataloader'):  # one augmented view per image
        dataset = innermost_dataset(cfg.train_dataloader.dataset)
        dataset.pipeline = single_view(dataset.pipeline)
    cfg.dump(root + '.py')
    save_checkpoint(dict(meta=meta, state_dict=weights), root + '.pth')
    model = get_model(root + '.py', device='cpu')
    load_checkpoint_checked(model, root + '.pth', root + '.py')
    return model


def write_traced(module: nn.Module, example: Tensor, fmt: str,
                 out: str) -> nn.Module:
    """Save ``module`` traced (TorchScript) or exported and load it back."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)  # TorchScript
        if fmt == 'torchscript':
            torch.jit.save(torch.jit.trace(module, example), out)
            return torch.jit.load(out)
        dims = {i: torch.export.Dim.AUTO for i in (0, 2, 3)}
        program = torch.export.export(module, (example, ),
                                      dynamic_shapes=(dims, ))
        torch.export.save(program, out)
        return torch.export.load(out).module()


def write_onnx(module: Deployed, example: Tensor, out: str,
               metadata: dict) -> 'OnnxClassifier':  # noqa: F821
    """Export ``module`` to ONNX with a dynamic batch axis and metadata.

    Outputs ``scores``, ``member_logits`` (with ``module.heads``),
    ``logits`` and ``sets`` (with a conformal calibration): see
    :class:`Deployed`.

    Returns:
        OnnxClassifier: The file loaded back with ONNX Runtime.
    """
    import onnx
    from onnxscript import opset18 as op

    from .onnx_classifier import OnnxClassifier

    def stable_sort(self, dim: int = -1, descending: bool = False,
                    stable: Optional[bool] = None):
        """``aten.sort.stable`` (the APS and RAPS scores) as TopK, whose ties
        keep the index order."""
        size = op.Reshape(op.Gather(op.Shape(self), dim, axis=0),
                          op.Constant(value_ints=[1]))
        return op.TopK(self, size, axis=dim, largest=descending, sorted=True)

    conformal = (module.calibration is not None
                 and module.calibration.conformal is not None)
    outputs = (['scores'] + ['member_logits'] * module.heads + ['logits'] +
               ['sets'] * conformal)
    batch = torch.export.Dim('batch', min=1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(
            module, (example, ),
            out,
            input_names=['inputs'],
            output_names=outputs,
            opset_version=OPSET,
            dynamic_shapes=({0: batch}, ),
            custom_translation_table={torch.ops.aten.sort.stable: stable_sort},
            external_data=False,
            dynamo=True,
            verbose=False)
    model = onnx.load(out)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, out)
    return OnnxClassifier(out)


def set_mismatches(sets: Tensor, samples: List[DataSample],
                   calibration: PostHocCalibration,
                   margin: float) -> Tuple[int, int]:
    """Count the set entries of the folded model that are not the MixMo
    model's.

    A class whose conformal score is within float error of the threshold
    may be in one set and not the other (the ONNX graph computes in
    float32, the MixMo model in float64): the entries whose MixMo score is
    within ``margin`` of the threshold are not compared.

    Args:
        sets (Tensor): The folded model's sets ``(B, K)`` bool.
        samples (list[DataSample]): The MixMo model's calibrated
            predictions, with ``ensemble_logits`` and ``pred_set``.
        calibration (PostHocCalibration): The MixMo model's, conformal.
        margin (float): The distance to the threshold under which entries
            are not compared.

    Returns:
        tuple[int, int]: The differing entries, and the entries not
        compared.
    """
    cfg = calibration.conformal
    probs = F.softmax(
        torch.stack([s.ensemble_logits for s in samples]).double(), dim=1)
    near = (conformal_scores(probs, cfg['score'], cfg['k_reg'], cfg['lam']) -
            cfg['threshold']).abs() <= margin
    want = torch.stack([s.pred_set for s in samples])
    return int(((sets.bool() != want) & ~near).sum()), int(near.sum())


def dataset_classes(cfg: Config, meta: Optional[dict]) -> Optional[list]:
    """The class names of the checkpoint, else of the test dataset."""
    classes = (meta or {}).get('dataset_meta', {}).get('classes')
    if classes is None and cfg.get('test_dataloader'):
        dataset = cfg.test_dataloader.dataset
        dataset = (pipeline_datasets(dataset) or [dataset])[0]
        classes = (dataset.get('metainfo') or {}).get('classes')
        if classes is None:
            dataset_type = DATASETS.get(dataset.get('type'))
            classes = getattr(dataset_type, 'METAINFO', {}).get('classes')
    return None if classes is None else list(classes)
