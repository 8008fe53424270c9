"""Predict images with a MixMo model: classes, members and uncertainty.

    python tools/predict.py CONFIG CHECKPOINT INPUTS... [options]
    python tools/predict.py MODEL.onnx INPUTS... [options]

INPUTS are image files, folders (searched recursively) or ``.txt`` lists of
image paths (one a line, relative to the list's folder). An ``.onnx`` model
(``tools/deployment/export_mixmo.py --format onnx``) runs with ONNX Runtime.

Exit codes: 0 all images predicted; 1 the model was refused (a checkpoint
that does not fit its config, an invalid .onnx file, a config without test
pipeline or input size); 2 bad arguments; 3 some files could not be read
(each is reported on stderr; the others are predicted and written).

A conformal model (``model.calibration``, see ``tools/calibrate.py``) also
predicts a set of classes per image, by decreasing probability: the table's
``set`` column and the CSV's ``pred_set`` (indices) and ``pred_set_classes``
(names) join them with ``|`` (an empty set: ``-`` in the table, an empty
cell in the CSV); the JSON has lists.
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Optional

from mmengine.utils import ProgressBar

from mmmixmo.apis import load_predictor, predict_files
from mmmixmo.apis.prediction_report import (SET_SEPARATOR, records_table,
                                            write_records_csv)
from mmmixmo.apis.predictor import collect_images
from mmmixmo.apis.tool_args import add_device
from mmmixmo.evaluation.functional.uncertainty import UNCERTAINTY_SCORES
from mmmixmo.utils import CheckpointMismatchError

#: a progress bar for more images than this
PROGRESS_MIN = 4
#: the exit code when some files could not be read
EXIT_UNREADABLE = 3


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Predict images with the members and the uncertainty of '
        'a MixMo model (a config and checkpoint, or an .onnx file), and the '
        'sets of a conformal one (classes by decreasing probability, joined '
        f'by {SET_SEPARATOR!r} in the table and the CSV)')
    parser.add_argument('model', help='config file, or an .onnx file')
    parser.add_argument(
        'inputs', nargs='+', metavar='[CHECKPOINT] INPUTS',
        help='the checkpoint (with a config), then image files, folders or '
        '.txt lists of image paths')
    parser.add_argument('--out-json', help='write the results as JSON')
    parser.add_argument('--out-csv', help='write the results as CSV')
    parser.add_argument(
        '--flag', action='append', default=[],
        metavar='SCORE=THRESHOLD',
        help='flag the predictions whose score (' +
        ', '.join(UNCERTAINTY_SCORES) + ') is above the threshold; repeat '
        'for several')
    parser.add_argument('--batch-size', type=int, default=16)
    add_device(parser)
    parser.add_argument(
        '--partial-load', action='store_true',
        help='load only the checkpoint keys that fit the config (a warning '
        'lists the others) instead of refusing the checkpoint')
    args = parser.parse_args(argv)
    if args.model.endswith('.onnx'):
        if args.partial_load:
            parser.error('--partial-load is for a config and checkpoint, '
                         'not an .onnx file')
        args.checkpoint = None
    elif len(args.inputs) < 2:
        parser.error('CHECKPOINT and INPUTS are required with a config MODEL '
                     f'({args.model})')
    else:
        args.checkpoint = args.inputs.pop(0)
    for name, path in (('MODEL', args.model), ('CHECKPOINT',
                                               args.checkpoint)):
        if path is not None and not osp.isfile(path):
            parser.error(f'{name}: no such file: {path}')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    args.thresholds = {}
    for item in args.flag:
        name, sep, value = item.partition('=')
        try:
            args.thresholds[name] = float(value)
        except ValueError:
            sep = ''
        if not sep or name not in UNCERTAINTY_SCORES:
            parser.error(f'--flag {item}: expected SCORE=THRESHOLD with SCORE '
                         f'one of {", ".join(UNCERTAINTY_SCORES)}')
    try:
        args.images = collect_images(args.inputs)
    except ValueError as error:
        parser.error(str(error))
    return args


def flag(record: dict, thresholds: Dict[str, float]) -> List[str]:
    """The names of the scores above their threshold."""
    missing = [name for name in thresholds if name not in record[
        'uncertainty']]
    if missing:
        needs = ('its logits (a model with ensemble_logits, or an ONNX file '
                 'of a newer export)' if missing[0] in ('energy', 'max_logit')
                 else 'M >= 2 members')
        raise SystemExit(f'--flag {missing[0]}: the model gives no '
                         f'{missing[0]} (it needs {needs})')
    return [
        name for name, threshold in thresholds.items()
        if record['uncertainty'][name] > threshold
    ]


def main(argv: Optional[List[str]] = None) -> List[dict]:
    """Predict, print and write; returns the records.

    Raises:
        SystemExit: 1 if the model is refused, :data:`EXIT_UNREADABLE` after
            writing the results if some files could not be read.
    """
    args = parse_args(argv)
    try:  # stdout is for the table: mmengine's log lines go to stderr
        with contextlib.redirect_stdout(sys.stderr):
            predictor = load_predictor(args.model, args.checkpoint,
                                       args.device, args.partial_load)
    except (CheckpointMismatchError, ValueError) as error:
        raise SystemExit(str(error))  # exit code 1
    bar = (ProgressBar(len(args.images), file=sys.stderr)
           if len(args.images) > PROGRESS_MIN else None)
    records, failures = [], []
    for start in range(0, len(args.images), args.batch_size):
        paths = args.images[start:start + args.batch_size]
        predicted, failed = predict_files(predictor, paths)
        for record in predicted:  # an unknown score stops the first batch
            record['flagged'] = flag(record, args.thresholds)
        records += predicted
        failures += failed
        if bar is not None:
            bar.update(len(paths))
    if bar is not None:
        sys.stderr.write('\n')
    print(records_table(records))
    if args.thresholds:
        print(f'flagged: {sum(bool(r["flagged"]) for r in records)} of '
              f'{len(records)}')
    for path in (args.out_json, args.out_csv):
        if path and osp.dirname(path):
            os.makedirs(osp.dirname(path), exist_ok=True)
    if args.out_json:
        with open(args.out_json, 'w') as file:
            json.dump(records, file, indent=2)
    if args.out_csv:
        write_records_csv(records, args.out_csv)
    for path, reason in failures:
        print(f'not predicted: {path}: {reason}', file=sys.stderr)
    if failures:
        print(f'{len(failures)} of {len(args.images)} files could not be '
              f'read (exit code {EXIT_UNREADABLE})', file=sys.stderr)
        raise SystemExit(EXIT_UNREADABLE)
    return records


if __name__ == '__main__':
    main()
