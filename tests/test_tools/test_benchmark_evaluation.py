"""tools/analysis_tools/benchmark_evaluation.py on tiny predictions (the
figures and the rows, not the timings)."""
import contextlib
import io
import json
import subprocess
import sys

import pytest
import torch
from mmengine.evaluator import Evaluator

from mmmixmo.evaluation.benchmark import (measure_evaluator, measure_tace,
                                          synthetic_batches)
from mmmixmo.evaluation.functional import (
    mixmo_thresholded_adaptive_calibration_error,
    thresholded_adaptive_calibration_error)
from mmmixmo.utils.benchmark import load_config
from tests.utils.tools import load_tool

METRICS = ['BatchAccuracy', 'CalibrationMetric', 'EnsembleDiversityMetric',
           'SelectivePredictionMetric']
# the config's metrics, mmpretrain's Accuracy (the reference), the evaluator
ROWS = METRICS + ['Accuracy', 'evaluator']


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/benchmark_evaluation.py')


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_synthetic_batches():
    batches = list(synthetic_batches(150, 7, 3, seed=0, batch_size=64))
    assert [len(b) for b in batches] == [64, 64, 22]
    sample = batches[2][-1]
    assert sample.pred_score.dtype == torch.float32
    assert sample.member_logits.shape == (3, 7)
    assert sample.ensemble_logits.dtype == torch.float64
    # probability averaging, as the ImageNet configs
    torch.testing.assert_close(
        sample.pred_score.double(),
        sample.member_logits.double().softmax(1).mean(0), atol=1e-6,
        rtol=0)
    torch.testing.assert_close(sample.ensemble_logits.softmax(0),
                               sample.pred_score.double(), atol=1e-6, rtol=0)
    # rows of batch tensors, as the heads write them; seeded
    assert sample.pred_score.untyped_storage().nbytes() == 22 * 7 * 4
    again = list(synthetic_batches(150, 7, 3, seed=0))[2][-1]
    assert torch.equal(again.member_logits, sample.member_logits)


def test_measurements_are_those_of_the_evaluator():
    metrics = list(load_config(tool_config()).val_evaluator)
    out = measure_evaluator(metrics, 200, 10, 2, seed=3, batch_size=32)
    evaluator = Evaluator(metrics)
    for batch in synthetic_batches(200, 10, 2, seed=3, batch_size=32):
        evaluator.process(batch)
    assert out['metrics'] == evaluator.evaluate(200)
    assert out['process'] > 0 and out['compute'] > 0 and out['cpu'] > 0
    assert out['peak_mib'] >= 0 and out['gathered_mib'] > 0
    # each metric's share of compute, in the evaluator's order
    assert [name for name, _ in out['each']] == METRICS
    shares = [seconds for _, seconds in out['each']]
    assert min(shares) > 0 and sum(shares) <= out['compute']
    tace = measure_tace('tace_mixmo', 200, 10, 2, seed=3)
    probs = torch.stack([
        s.pred_score for b in synthetic_batches(200, 10, 2, seed=3)
        for s in b
    ]).double()
    labels = torch.tensor(
        [int(s.gt_label) for b in synthetic_batches(200, 10, 2, 3)
         for s in b])
    assert tace['metrics'] == dict(
        tace_mixmo=mixmo_thresholded_adaptive_calibration_error(
            probs, labels))
    assert tace['above'] == pytest.approx(
        100 * float((probs > 1e-3).double().mean()))
    assert measure_tace('tace', 200, 10, 2, 3)['metrics'] == dict(
        tace=thresholded_adaptive_calibration_error(probs, labels))


def tool_config() -> str:
    return load_tool('analysis_tools/benchmark_evaluation.py').CONFIG


def test_table_of_rows(tool, capsys, monkeypatch):
    # every (row, N, repeat) runs in a child process: here in this one
    commands, outputs, real_run = [], [], subprocess.run

    def run(cmd, **kwargs):
        if cmd[0] != sys.executable:  # e.g. platform's uname
            return real_run(cmd, **kwargs)
        commands.append(cmd)
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            tool.main(cmd[2:])
        outputs.append(json.loads(stdout.getvalue()))
        return subprocess.CompletedProcess(cmd, 0, stdout.getvalue(), '')

    monkeypatch.setattr(tool.subprocess, 'run', run)
    results = tool.main(['--sizes', '90', '60', '--num-classes', '10',
                         '--num-members', '3', '--seed', '1', '--tace',
                         '--repeats', '3'])
    out = capsys.readouterr().out
    assert len(commands) == 2 * 8 * 3
    assert commands[0][-8:] == ['--num-classes', '10', '--num-members', '3',
                                '--seed', '1', '--batch-size', '64']
    # interleaved: the rows in order, then backwards, then in order
    rows = ['0', '1', '2', '3', 'reference', 'evaluator', 'tace',
            'tace_mixmo']
    assert [cmd[4] for cmd in commands[:24]] == rows + rows[::-1] + rows
    assert {cmd[5] for cmd in commands[:24]} == {'90'}
    assert [r['row'] for r in results[:8]] == ROWS + ['tace', 'tace_mixmo']
    assert [r['num'] for r in results] == [90] * 8 + [60] * 8
    # the medians of the repeats
    computes = [o['compute'] for o, cmd in zip(outputs, commands[:24])
                if cmd[4] == '1']
    assert results[1]['compute'] == sorted(computes)[1]
    lines = out.splitlines()
    assert lines[0].startswith('Hardware: CPU')
    assert lines[1].split('|')[1:-1] == [
        ' row                       ', ' N x K   ', ' process s ',
        ' compute s ', ' total s ', ' CPU s ', ' peak extra MiB ',
        ' gathered MiB '
    ]
    assert lines[3].startswith('| BatchAccuracy             | 90 x 10 |')
    assert lines[7].startswith('| Accuracy                  | 90 x 10 |')
    assert lines[10].startswith('| tace_mixmo                | 90 x 10 |')
    assert lines[3].split('|')[4].strip() == '{:.2f}'.format(
        results[0]['compute'])
    # the TACE rows are functions: no process, nothing gathered
    assert lines[10].split('|')[3].strip() == '-'
    ratio = next(line for line in lines
                 if line.startswith('evaluator / Accuracy at N = 90'))
    by_row = {cmd[4]: [o for o, c in zip(outputs[:24], commands)
                       if c[4] == cmd[4]] for cmd in commands[:24]}
    # against mmpretrain's Accuracy, with the config's topk
    assert [o['metrics'] for o in by_row['reference']] == [
        o['metrics'] for o in by_row['0']]
    assert list(by_row['reference'][0]['metrics']) == [
        'accuracy/top1', 'accuracy/top5']
    ratios = sorted(f['compute'] / a['compute']
                    for f, a in zip(by_row['evaluator'], by_row['reference']))
    expected = 'compute {:.2f} x ({:.2f}-{:.2f}), '.format(
        ratios[1], ratios[0], ratios[2])
    assert ratio.split(': ', 1)[1].startswith(expected)
    assert ' x (CPU ' not in ratio and ', CPU ' in ratio
    shares = next(line for line in lines if line.startswith(
        'compute of each metric in the evaluator at N = 90: '))
    accuracy = sorted(o['each'][0][1] for o in by_row['evaluator'])
    assert shares.split(': ', 1)[1].startswith(
        'BatchAccuracy {:.2f} s, CalibrationMetric '.format(accuracy[1]))
    assert 'BatchAccuracy and Accuracy at N = 60: the same values' in lines
    assert 'peak extra memory' in ratio
    values = [line for line in lines if line.startswith('values at N = 60')]
    assert json.loads(values[0].split(': ', 1)[1]) == results[13]['metrics']
    assert 'diversity/head2_top1' in results[13]['metrics']


def test_reference_row(tool):
    # a config with mmpretrain's Accuracy is its own reference
    metrics = [dict(type='Accuracy', topk=(1, )), dict(type='OODMetric')]
    assert tool.row_names(metrics, False) == [
        ('0', 'Accuracy'), ('1', 'OODMetric'), ('evaluator', 'evaluator')]
    # else Accuracy with BatchAccuracy's arguments, or top-1 and top-5
    assert tool.reference([
        dict(type='OODMetric'),
        dict(type='BatchAccuracy', topk=(1, 3), thrs=None)
    ]) == dict(type='Accuracy', topk=(1, 3), thrs=None)
    assert tool.reference([]) == dict(type='Accuracy', topk=(1, 5))
