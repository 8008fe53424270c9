"""Fold a MixMo checkpoint into one network and write it for deployment.

Usage: python tools/deployment/export_mixmo.py CONFIG CHECKPOINT --out model.pt
       [--format torchscript|export|mmpretrain|onnx] [--heads]

A calibrated model (``model.calibration``, see ``tools/calibrate.py``) is
written calibrated: every format predicts ``softmax(z / T)``; the onnx graph
also outputs the conformal sets and records the calibration in its metadata,
and the mmpretrain config is a ``VanillaClassifier`` with the calibration.
"""
import argparse
import os.path as osp
from typing import List, Optional

from mmmixmo.apis.export import (SUFFIXES, export_model, export_options_error,
                                 load_mixmo)
from mmmixmo.apis.tool_args import add_cfg_options
from mmmixmo.utils import CheckpointMismatchError, load_config


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
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    problem = export_options_error(args.format, args.with_preprocess,
                                   args.logits)
    if problem:
        parser.error(problem)
    if args.out is None:
        args.out = (osp.splitext(args.checkpoint)[0] + '_folded' +
                    SUFFIXES[args.format])
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    """Fold, write, reload and check; returns the printed figures."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    try:
        model, meta = load_mixmo(cfg, args.checkpoint)
        result = export_model(
            cfg, model, args.out, args.format, args.heads,
            args.with_preprocess, args.logits, args.img_size,
            args.batch_size, args.atol, args.seed, meta)
    except (CheckpointMismatchError, ValueError) as error:
        raise SystemExit(str(error))
    size = result['img_size']
    print(f'wrote {" and ".join(result["files"])}\nmax abs diff to the MixMo '
          f'model: {result["max_abs_diff"]:.3g} (atol {args.atol:g}, '
          f'{args.batch_size} images {size[0]}x{size[1]})\nparameters: MixMo '
          f'{result["params_mixmo"]:,}, folded {result["params_folded"]:,}')
    if 'set_mismatches' in result:
        print(f'sets: {result["set_mismatches"]} of {result["set_entries"]} '
              f'entries differ ({result["set_entries_skipped"]} within '
              '--atol of the threshold not compared)')
    return result


if __name__ == '__main__':
    main()
