"""ConformalMetric in an mmengine Evaluator, against hand values."""
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

import mmmixmo  # noqa: F401  (registers the metrics)
from mmmixmo.evaluation.metrics import ConformalMetric

# K = 4: sets {0} y 0 (covered), {0, 1} y 2, {} y 1, {1, 2, 3} y 3
# (covered), {2} y 1, {0, 1, 2, 3} y 0 (covered)
SETS = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0], [0, 1, 1, 1],
                     [0, 0, 1, 0], [1, 1, 1, 1]]).bool()
LABELS = [0, 2, 1, 3, 1, 0]


def _samples(sets=SETS, labels=LABELS):
    """Samples of a conformal model: ``pred_set`` and ``gt_label``."""
    samples = []
    for pred_set, label in zip(sets, labels):
        sample = DataSample().set_gt_label(label)
        sample.set_field(pred_set, 'pred_set')
        samples.append(sample)
    return samples


def _evaluate(metric, samples):
    metric.process(None, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def test_in_evaluator_by_hand():
    evaluator = Evaluator([METRICS.build(dict(type='ConformalMetric'))])
    samples = _samples()
    evaluator.process(samples[:4])
    evaluator.process(samples[4:])
    out = evaluator.evaluate(6)
    assert out == {
        # 3 of 6 labels in their set
        'conformal/coverage': 0.5,
        # sizes 1, 2, 0, 3, 1, 4
        'conformal/set_size': pytest.approx(11 / 6),
        'conformal/empty': pytest.approx(1 / 6),
        # size 0: s2; 1: s0 R, s4 W; 2-3: s1 W, s3 R; 4-10: s5 R
        'conformal/coverage_size_0': 0.0,
        'conformal/coverage_size_1': 0.5,
        'conformal/coverage_size_2-3': 0.5,
        'conformal/coverage_size_4-10': 1.0,
        # the minimum, 0 with an empty set
        'conformal/ssc': 0.0,
    }
    assert list(out)[-1] == 'conformal/ssc'


def test_without_empty_sets():
    # s0, s3, s4, s5: buckets 1 (R, W), 2-3 (R), 4-10 (R)
    keep = [0, 3, 4, 5]
    out = _evaluate(
        ConformalMetric(prefix='cp'),
        _samples(SETS[keep], [LABELS[i] for i in keep]))
    assert out == {
        'cp/coverage': 0.75,
        'cp/set_size': 2.25,
        'cp/empty': 0.0,
        'cp/coverage_size_1': 0.5,
        'cp/coverage_size_2-3': 1.0,
        'cp/coverage_size_4-10': 1.0,
        'cp/ssc': 0.5,
    }


def test_user_mistakes():
    sample = _samples()[0].to_dict()
    del sample['pred_set']
    with pytest.raises(KeyError) as error:
        ConformalMetric().process(None, [sample])
    assert 'no conformal calibration' in str(error.value)
    assert ('python tools/calibrate.py CONFIG CHECKPOINT --conformal aps '
            '--alpha 0.1') in str(error.value)
    with pytest.raises(ValueError, match='`pred_set` must be a bool'):
        ConformalMetric().process(
            None, [dict(sample, pred_set=torch.tensor([1., 0., 0., 0.]))])
    with pytest.raises(ValueError, match='`gt_label` 4 is not a class'):
        ConformalMetric().process(
            None, [dict(sample, pred_set=SETS[0], gt_label=torch.tensor([4]))])
    with pytest.raises(ValueError, match='single-label'):
        ConformalMetric().process(None, [
            dict(sample, pred_set=SETS[0], gt_label=torch.tensor([0, 1]))
        ])


def test_results_are_small():
    # the size of each set and whether it holds the label, not the set
    metric = ConformalMetric()
    metric.process(None, [s.to_dict() for s in _samples()])
    assert metric.results == [
        dict(size=1, covered=True), dict(size=2, covered=False),
        dict(size=0, covered=False), dict(size=3, covered=True),
        dict(size=1, covered=False), dict(size=4, covered=True)
    ]
    metric.process(None, [])
    assert len(metric.results) == 6
