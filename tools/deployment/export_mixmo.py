"""Fold a MixMo checkpoint into one network and write it for deployment.

Usage: python tools/deployment/export_mixmo.py CONFIG CHECKPOINT --out model.pt
"""
import argparse
import os
import os.path as osp
import warnings
from typing import List, Optional

import torch
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint, save_checkpoint
from mmpretrain import get_model
from mmpretrain.registry import MODELS
from torch import Tensor, nn

from mmmixmo.models.classifiers import MixMoClassifier, fold_mixmo

SUFFIXES = dict(torchscript='.pt', export='.pt2', mmpretrain='')


class Deployed(nn.Module):
    """A classifier from images ``(B, C, H, W)`` (raw 0-255 ones with
    ``with_preprocess``) to probabilities or ``logits`` ``(B, K)``."""

    def __init__(self, classifier: nn.Module, with_preprocess: bool,
                 logits: bool) -> None:
        super().__init__()
        self.classifier, self.logits = classifier, logits
        self.with_preprocess = with_preprocess

    def forward(self, inputs: Tensor) -> Tensor:
        if self.with_preprocess:
            inputs = self.classifier.data_preprocessor(
                dict(inputs=inputs))['inputs']
        logits = self.classifier(inputs, mode='tensor')
        return logits if self.logits else logits.softmax(dim=1)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Fold a MixMo checkpoint into its vanilla network.')
    parser.add_argument('config', help='MixMo config file')
    parser.add_argument('checkpoint', help='MixMo checkpoint file')
    parser.add_argument('--out', help='output file (mmpretrain: NAME.py and '
                        'NAME.pth); default: CHECKPOINT_folded')
    parser.add_argument('--format', choices=list(SUFFIXES),
                        default='torchscript')
    parser.add_argument('--with-preprocess', action='store_true',
                        help='take raw 0-255 images, normalise inside')
    parser.add_argument('--logits', action='store_true',
                        help='output the mean head logits, not probabilities')
    parser.add_argument('--img-size', type=int, default=32,
                        help='image side of the check batch; the written '
                        'networks take any batch and image size')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--atol', type=float, default=1e-5,
                        help='largest allowed difference to the MixMo model')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if args.format == 'mmpretrain' and (args.with_preprocess or args.logits):
        parser.error('--with-preprocess and --logits are for torchscript and '
                     'export')
    if args.out is None:
        args.out = (osp.splitext(args.checkpoint)[0] + '_folded' +
                    SUFFIXES[args.format])
    return args


def write_mmpretrain(cfg: Config, folded_cfg: dict, weights: dict,
                     meta: Optional[dict], root: str) -> nn.Module:
    """Write ``root``.py and ``root``.pth, load them with ``get_model``."""
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
    save_checkpoint(dict(meta=meta or {}, state_dict=weights), root + '.pth')
    return get_model(root + '.py', pretrained=root + '.pth', device='cpu')


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


@torch.no_grad()
def main(argv: Optional[List[str]] = None) -> dict:
    """Fold, write, reload and check; returns the printed figures."""
    args = parse_args(argv)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    cfg.model.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    mixmo = MODELS.build(cfg.model)
    if not isinstance(mixmo, MixMoClassifier):
        raise SystemExit(f'model.type={cfg.model.type!r}: export_mixmo folds '
                         "a 'MixMoClassifier'")
    checkpoint = load_checkpoint(mixmo, args.checkpoint, 'cpu', strict=True)
    folded_cfg, weights = fold_mixmo(cfg.model, mixmo.eval().state_dict())
    size = (args.batch_size, mixmo.encoders.convs[0].in_channels,
            args.img_size, args.img_size)
    gen = torch.Generator().manual_seed(args.seed)
    raw = torch.randint(0, 256, size, generator=gen).float()
    want = torch.stack([s.ensemble_logits if args.logits else s.pred_score
                        for s in mixmo.test_step(dict(inputs=raw))])
    if args.format == 'mmpretrain':
        root = osp.splitext(args.out)[0]
        folded = write_mmpretrain(cfg, folded_cfg, weights,
                                  checkpoint.get('meta'), root)
        got = torch.stack(
            [s.pred_score for s in folded.test_step(dict(inputs=raw))])
        print(f'wrote {root}.py and {root}.pth')
    else:
        classifier = MODELS.build(folded_cfg)
        classifier.load_state_dict(weights)
        inputs = raw if args.with_preprocess else mixmo.data_preprocessor(
            dict(inputs=raw))['inputs']
        folded = write_traced(
            Deployed(classifier.eval(), args.with_preprocess, args.logits),
            inputs, args.format, args.out)
        got = folded(inputs)
        print(f'wrote {args.out}')
    diff = float((got - want).abs().max())
    params = [sum(p.numel() for p in m.parameters()) for m in (mixmo, folded)]
    print(f'max abs diff to the MixMo model: {diff:.3g} (atol {args.atol:g},'
          f' {len(raw)} images {args.img_size}x{args.img_size})\nparameters: '
          f'MixMo {params[0]:,}, folded {params[1]:,}')
    if not diff <= args.atol:
        raise SystemExit(f'the folded model differs from the MixMo model by '
                         f'{diff:.3g} > --atol {args.atol:g}')
    return dict(out=args.out, max_abs_diff=diff, params_mixmo=params[0],
                params_folded=params[1])


if __name__ == '__main__':
    main()
