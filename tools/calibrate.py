"""Calibrate a trained model: its temperature and conformal prediction sets.

    python tools/calibrate.py CONFIG CHECKPOINT [--conformal aps --alpha 0.1]

Fits on the config's ``calibration_dataloader`` (else ``val_dataloader``) and
writes OUT.py (the config with ``model.calibration``) and OUT.pth (the
weights, ``meta['calibration']``); test and deploy with both.
"""
import argparse
import os.path as osp
from typing import List, Optional

from mmmixmo.apis import calibrate_checkpoint
from mmmixmo.apis.tool_args import add_cfg_options, add_device
from mmmixmo.evaluation.functional.conformal import CONFORMAL_SCORES


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Fit the temperature (and conformal sets) of a trained '
        'model on a held-out split; write the calibrated config and '
        'checkpoint.')
    parser.add_argument('config', help='the config the model was trained '
                        'with')
    parser.add_argument('checkpoint', help='its checkpoint (loaded strictly)')
    parser.add_argument('--out', help='root of OUT.py and OUT.pth; default: '
                        'CHECKPOINT_calibrated')
    parser.add_argument('--no-temperature', action='store_true',
                        help='keep temperature 1 (only conformal sets)')
    parser.add_argument('--conformal', choices=CONFORMAL_SCORES,
                        help='the conformal score of the sets (default: no '
                        'sets)')
    parser.add_argument('--alpha', type=float, default=0.1,
                        help='miscoverage level: the sets hold the label '
                        'with probability >= 1 - alpha (default 0.1)')
    parser.add_argument('--k-reg', type=int, default=1,
                        help='RAPS: the rank from which classes pay --lam '
                        '(default 1)')
    parser.add_argument('--lam', type=float, default=0.01,
                        help='RAPS: the penalty per rank (default 0.01)')
    add_device(parser)
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    if not 0 < args.alpha < 1:
        parser.error(f'--alpha must be in (0, 1), got {args.alpha}')
    if args.no_temperature and args.conformal is None:
        parser.error('--no-temperature without --conformal calibrates '
                     'nothing')
    if args.conformal == 'raps' and (args.k_reg < 0 or args.lam < 0):
        parser.error('--k-reg and --lam must be >= 0')
    if args.out is None:
        args.out = osp.splitext(args.checkpoint)[0] + '_calibrated'
    return args


def main(argv: Optional[List[str]] = None) -> dict:
    args = parse_args(argv)
    result = calibrate_checkpoint(
        args.config, args.checkpoint, args.out, args.cfg_options,
        args.device, temperature=not args.no_temperature,
        conformal=args.conformal, alpha=args.alpha, k_reg=args.k_reg,
        lam=args.lam)
    fig, cal = result['figures'], result['calibration']
    print(f'calibration split: {result["num_samples"]} images\n'
          f'temperature {cal["temperature"]:.4f}: NLL {fig["nll"]:.4f} -> '
          f'{fig["nll_calibrated"]:.4f}, ECE {fig["ece"]:.4f} -> '
          f'{fig["ece_calibrated"]:.4f}')
    if cal['conformal'] is not None:
        conf = cal['conformal']
        print(f'{conf["score"]} sets at alpha {conf["alpha"]:g}: threshold '
              f'{conf["threshold"]:.6g}, coverage {fig["coverage"]:.4f} and '
              f'mean size {fig["set_size"]:.3f} on the calibration split')
    print(f'wrote {args.out}.py and {args.out}.pth; test them with\n'
          f'  python tools/test.py {args.out}.py {args.out}.pth')
    return result


if __name__ == '__main__':
    main()
