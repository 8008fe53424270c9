"""Fold a MixMo checkpoint into one network and write it for deployment.

Usage: python tools/deployment/export_mixmo.py CONFIG CHECKPOINT --out model.pt
       [--format torchscript|export|mmpretrain|onnx] [--heads]

A calibrated model (``model.calibration``, see ``tools/calibrate.py``) is
written calibrated: every format predicts ``softmax(z / T)``; the onnx graph
also outputs the conformal sets and records the calibration in its metadata,
and the mmpretrain config is a ``VanillaClassifier`` with the calibration.
"""
import argparse
import json
import os
import os.path as osp
import warnings
from typing import List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmpretrain import get_model
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample
from torch import Tensor, nn

from mmmixmo.apis.prediction_pipeline import (checkpoint_channel_order,
                                              prediction_transforms)
from mmmixmo.datasets.model_inputs import input_size
from mmmixmo.evaluation.functional.conformal import conformal_scores
from mmmixmo.evaluation.functional.uncertainty import ood_logits
from mmmixmo.models.classifiers import MixMoClassifier, fold_mixmo
from mmmixmo.models.utils.ensemble_average import ensemble_average
from mmmixmo.models.utils.post_hoc_calibration import PostHocCalibration
from mmmixmo.utils import CheckpointMismatchError, load_checkpoint_checked

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


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Fold a MixMo checkpoint into its vanilla network.')
    parser.add_argument('config', help='MixMo config file')
    parser.add_argument(
        'checkpoint',
        help='MixMo checkpoint file, loaded strictly: one that does not fit '
        'the config exactly is refused (there is no partial load: a '
        'partially loaded network must never be deployed)')
    parser.add_argument('--out', help='output file (mmpretrain: NAME.py and '
                        'NAME.pth); default: CHECKPOINT_folded')
    parser.add_argument('--format', choices=list(SUFFIXES),
                        default='torchscript')
    parser.add_argument('--heads', action='store_true',
                        help='keep the M heads: also output the member '
                        'logits (B, M, K); mmpretrain: a MultiHeadClsHead')
    parser.add_argument('--with-preprocess', action='store_true',
                        help='take raw 0-255 images, normalise inside '
                        '(always for onnx)')
    parser.add_argument('--logits', action='store_true',
                        help='output the ensemble logits, not probabilities')
    parser.add_argument('--img-size', type=int,
                        help='image side of the check batch and of the onnx '
                        "input; default: the test pipeline's crop or resize "
                        "(H x W), else the train pipeline's; onnx: images "
                        'are resized to it if the test pipeline sets no size, '
                        'and it must be that size otherwise')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--atol', type=float, default=1e-5,
                        help='largest allowed difference to the MixMo model; '
                        'conformal sets must be identical, except for the '
                        'classes whose score is within atol of the '
                        'threshold')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.format == 'mmpretrain' and (args.with_preprocess or args.logits):
        parser.error('--with-preprocess and --logits are for torchscript, '
                     'export and onnx')
    if args.format == 'onnx':
        if args.logits:
            parser.error('--logits is for torchscript and export: the onnx '
                         'file outputs the probabilities `scores`')
        args.with_preprocess = True
    if args.out is None:
        args.out = (osp.splitext(args.checkpoint)[0] + '_folded' +
                    SUFFIXES[args.format])
    return args


def write_mmpretrain(cfg: Config, folded_cfg: dict, weights: dict,
                     meta: dict, root: str) -> nn.Module:
    """Write ``root``.py and ``root``.pth, load them back (strictly)."""
    cfg.model = folded_cfg
    cfg.custom_hooks = [
        h for h in cfg.get('custom_hooks', [])
        if str(h['type']).split('.')[-1] != 'MixingProbHook'
    ]
    if cfg.get('train_dataloader'):  # one augmented view per image
        dataset = cfg.train_dataloader.dataset
        while 'pipeline' not in dataset:  # dataset wrappers
            dataset = dataset.dataset
        dataset.pipeline = [
            step for t in dataset.pipeline
            for step in (t.transforms if t.type == 'MemberViews' else [t])
        ]
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
        while 'type' in dataset and 'dataset' in dataset:  # wrappers
            dataset = dataset.dataset
        classes = (dataset.get('metainfo') or {}).get('classes')
        if classes is None:
            dataset_type = DATASETS.get(dataset.get('type'))
            classes = getattr(dataset_type, 'METAINFO', {}).get('classes')
    return None if classes is None else list(classes)


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

    from mmmixmo.apis import OnnxClassifier

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


@torch.no_grad()
def main(argv: Optional[List[str]] = None) -> dict:
    """Fold, write, reload and check; returns the printed figures."""
    args = parse_args(argv)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    try:  # the onnx file records how to bring images to its input
        img_size = ((args.img_size, args.img_size)
                    if args.img_size else input_size(cfg))
        transforms = (prediction_transforms(cfg, img_size)
                      if args.format == 'onnx' else None)
    except ValueError as error:
        raise SystemExit(f'--img-size {args.img_size}: {error}'
                         if args.img_size else str(error))
    cfg.model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    mixmo = MODELS.build(cfg.model)
    if not isinstance(mixmo, MixMoClassifier):
        raise SystemExit(f'model.type={cfg.model.type!r}: export_mixmo folds '
                         "a 'MixMoClassifier'")
    try:
        checkpoint = load_checkpoint_checked(
            mixmo, args.checkpoint, args.config,
            hint='export_mixmo.py loads strictly: a partially loaded network '
            'must never be deployed')
    except CheckpointMismatchError as error:
        raise SystemExit(str(error))
    meta = dict(checkpoint.get('meta') or {})
    meta['channel_order'] = checkpoint_channel_order(
        meta, cfg, f'checkpoint {args.checkpoint!r}')
    try:
        folded_cfg, weights = fold_mixmo(
            cfg.model, mixmo.eval().state_dict(), keep_heads=args.heads)
    except ValueError as error:
        raise SystemExit(f'{error}, or keep the heads with --heads')
    size = (args.batch_size, mixmo.encoders.convs[0].in_channels,
            *img_size)
    gen = torch.Generator().manual_seed(args.seed)
    raw = torch.randint(0, 256, size, generator=gen).float()
    samples = mixmo.test_step(dict(inputs=raw))  # calibrated

    def stack(key: str) -> Tensor:
        return torch.stack([s.get(key) for s in samples]).float()

    want = [stack('ensemble_logits' if args.logits else 'pred_score')]
    want += [stack('member_logits')] * args.heads
    sets = None  # of the folded model, if conformal
    if args.format == 'mmpretrain':
        root = osp.splitext(args.out)[0]
        folded = write_mmpretrain(cfg, folded_cfg, weights, meta, root)
        outputs = folded.test_step(dict(inputs=raw))
        got = [torch.stack([s.pred_score for s in outputs])]
        if args.heads:
            got.append(torch.stack([s.member_logits for s in outputs]))
        if 'pred_set' in outputs[0]:
            sets = torch.stack([s.pred_set for s in outputs])
        print(f'wrote {root}.py and {root}.pth')
    else:
        classifier = MODELS.build(folded_cfg)
        classifier.load_state_dict(weights)
        inputs = raw if args.with_preprocess else mixmo.data_preprocessor(
            dict(inputs=raw))['inputs']
        module = Deployed(classifier.eval(), args.with_preprocess,
                          args.logits, args.heads, mixmo.calibration,
                          ood_outputs=args.format == 'onnx')
        if args.format == 'onnx':
            calibration = mixmo.calibration and mixmo.calibration.to_dict()
            metadata = dict(
                classes=json.dumps(dataset_classes(cfg, meta)),
                input_size=json.dumps(list(img_size)),
                channel_order=meta['channel_order'],
                transforms=json.dumps(transforms),
                average=mixmo.head.average,
                calibration=json.dumps(calibration),
                producer='mmmixmo')
            # the batch of the check is not the example's: dynamic axis
            example = torch.cat([inputs, inputs[:1]])
            outputs = write_onnx(module, example, args.out,
                                 metadata)(inputs.numpy())
            got = [torch.from_numpy(outputs[name]) for name in
                   ['scores'] + ['member_logits'] * args.heads + ['logits']]
            want.append(ood_logits(
                stack('member_logits'), stack('ensemble_logits'),
                samples[0].get('temperature', 1.0)).float())
            sets = outputs.get('sets')
            sets = None if sets is None else torch.from_numpy(sets)
            folded = module
        else:
            folded = write_traced(module, inputs, args.format, args.out)
            got = folded(inputs)
        print(f'wrote {args.out}')
    got = [got] if isinstance(got, Tensor) else got
    diff = max(
        float((g - w).abs().max()) for g, w in zip(got, want, strict=True))
    params = [sum(p.numel() for p in m.parameters()) for m in (mixmo, folded)]
    print(f'max abs diff to the MixMo model: {diff:.3g} (atol {args.atol:g},'
          f' {len(raw)} images {img_size[0]}x{img_size[1]})\nparameters: '
          f'MixMo {params[0]:,}, folded {params[1]:,}')
    result = dict(out=args.out, max_abs_diff=diff, params_mixmo=params[0],
                  params_folded=params[1])
    if sets is not None:
        result['set_mismatches'], result['set_entries_skipped'] = \
            set_mismatches(sets, samples, mixmo.calibration, args.atol)
        print(f'sets: {result["set_mismatches"]} of {sets.numel()} entries '
              f'differ ({result["set_entries_skipped"]} within --atol of '
              'the threshold not compared)')
    if not diff <= args.atol:
        raise SystemExit(f'the folded model differs from the MixMo model by '
                         f'{diff:.3g} > --atol {args.atol:g}')
    if result.get('set_mismatches'):
        raise SystemExit(f'the sets of the folded model differ from the '
                         f'MixMo model\'s in {result["set_mismatches"]} '
                         'entries farther than --atol from the threshold')
    return result


if __name__ == '__main__':
    main()
