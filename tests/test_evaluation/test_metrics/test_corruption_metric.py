"""Tests of CorruptionMetric: per-group metrics averaged by hand."""
import logging
import math
from unittest import mock
from typing import List, Sequence

import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.registry import DefaultScope
from mmpretrain.registry import METRICS
from mmpretrain.structures import DataSample

import mmmixmo  # noqa: F401  (registers the metrics)
from mmmixmo.evaluation.metrics import CalibrationMetric, CorruptionMetric

K = 3
# (corruption, severity, number of right predictions among its 4 samples)
GROUPS = [('fog', 1, 4), ('fog', 2, 3), ('snow', 1, 2), ('snow', 2, 1)]
WRAPPED = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='CalibrationMetric', num_bins=15),
    dict(type='EnsembleDiversityMetric'),
]
# Every prediction puts logit 2 on one class (both heads), 0 elsewhere:
# confidence a = e^2 / (e^2 + 2); p(true) = a if right, b = 1 / (e^2 + 2)
# if wrong.
A = math.exp(2) / (math.exp(2) + 2)  # 0.786986
B = 1 / (math.exp(2) + 2)  # 0.106507


def _sample(label: int,
            right: bool,
            corruption=None,
            severity=None) -> DataSample:
    target = label if right else (label + 1) % K
    member_logits = torch.zeros(2, K)
    member_logits[:, target] = 2.0
    sample = DataSample().set_gt_label(label).set_pred_score(
        member_logits.mean(0).softmax(0))
    sample.set_field(member_logits, 'member_logits')
    if corruption is not None:
        sample.set_metainfo(dict(corruption=corruption))
    if severity is not None:
        sample.set_metainfo(dict(severity=severity))
    return sample


def _samples(groups=GROUPS, size: int = 4) -> List[DataSample]:
    """`size` samples per group, the first `right` of them right."""
    samples = []
    for corruption, severity, right in groups:
        for j in range(size):
            samples.append(_sample(j % K, j < right, corruption, severity))
    return samples


def _evaluate(metric: BaseMetric,
              samples: Sequence[DataSample],
              batch_size: int = 5,
              size=None) -> dict:
    evaluator = Evaluator([metric])
    for start in range(0, len(samples), batch_size):
        evaluator.process(samples[start:start + batch_size])
    return evaluator.evaluate(len(samples) if size is None else size)


def test_group_means_by_hand():
    metric = CorruptionMetric(WRAPPED, per_corruption=True, per_severity=True)
    out = _evaluate(metric, _samples())
    # accuracy per group 100, 75, 50, 25
    assert out['corruption/accuracy/top1'] == pytest.approx(62.5)
    assert out['corruption/fog/accuracy/top1'] == pytest.approx(87.5)
    assert out['corruption/snow/accuracy/top1'] == pytest.approx(37.5)
    assert out['corruption/severity1/accuracy/top1'] == pytest.approx(75.0)
    assert out['corruption/severity2/accuracy/top1'] == pytest.approx(50.0)
    # NLL per group: -(r ln a + (4 - r) ln b) / 4; mean r = 2.5
    nll = -(2.5 * math.log(A) + 1.5 * math.log(B)) / 4
    assert nll == pytest.approx(0.989545, abs=1e-6)
    assert out['corruption/calibration/nll'] == pytest.approx(nll, abs=1e-6)
    assert out['corruption/fog/calibration/nll'] == pytest.approx(
        -(3.5 * math.log(A) + 0.5 * math.log(B)) / 4, abs=1e-6)
    # ECE per group: all confidences are a, so |r / 4 - a|; its mean over
    # groups (0.268493) is not the pooled ECE |0.625 - a| = 0.161986.
    ece = sum(abs(r / 4 - A) for *_, r in GROUPS) / 4
    assert ece == pytest.approx(0.268493, abs=1e-6)
    assert out['corruption/calibration/ece'] == pytest.approx(ece, abs=1e-6)
    pooled = CalibrationMetric()
    pooled.process(None, [s.to_dict() for s in _samples()])
    assert pooled.compute_metrics(pooled.results)['ece'] == pytest.approx(
        abs(0.625 - A), abs=1e-6)
    # Brier per sample: right 2 (1 - a)^2... = (1 - a)^2 + 2 b^2 = 0.067991,
    # wrong (a^2 + b^2 + (1 - b)^2) = 1.432520
    right, wrong = (1 - A)**2 + 2 * B**2, A**2 + B**2 + (1 - B)**2
    assert out['corruption/calibration/brier'] == pytest.approx(
        (2.5 * right + 1.5 * wrong) / 4, abs=1e-6)
    # both heads predict like the ensemble
    assert out['corruption/diversity/head0_top1'] == pytest.approx(62.5)
    assert out['corruption/diversity/head1_top1'] == pytest.approx(62.5)
    assert out['corruption/diversity/disagreement'] == 0.0
    assert out['corruption/diversity/ensemble_gain'] == pytest.approx(0.0)
    # temperature-scaled keys: every group has 4 samples, 2 per half
    for key in ('nll_c', 'ece_c', 'temperature'):
        assert f'corruption/calibration/{key}' in out
        assert f'corruption/fog/calibration/{key}' in out


def test_group_mean_is_each_group_evaluated_alone():
    out = _evaluate(CorruptionMetric(WRAPPED), _samples())
    per_group = []
    for group in GROUPS:
        alone = Evaluator([METRICS.build(cfg) for cfg in WRAPPED])
        alone.process(_samples([group]))
        per_group.append(alone.evaluate(4))
    for key in ('accuracy/top1', 'calibration/nll', 'calibration/ece',
                'calibration/nll_c', 'calibration/ece_c',
                'calibration/temperature', 'diversity/head0_top1'):
        mean = sum(g[key] for g in per_group) / len(per_group)
        assert out[f'corruption/{key}'] == pytest.approx(mean, abs=1e-9), key


def test_mean_over_groups_is_not_pooled_for_unequal_groups():
    # 1 right sample in one group, 3 wrong in the other: mean of 100 and
    # 0 is 50, while the pooled accuracy would be 25.
    samples = [_sample(0, True, 'fog', 1)
               ] + [_sample(j, False, 'fog', 2) for j in range(3)]
    metric = CorruptionMetric(dict(type='Accuracy'))
    assert _evaluate(metric, samples) == {
        'corruption/accuracy/top1': pytest.approx(50.0)
    }


def test_keys_of_some_groups_only_are_left_out():
    # ratio_errors: the all-right fog severity-1 group has no common error
    # (N00 = 0) so that group reports none; nll_c: the 3-sample snow groups
    # are too small.
    samples = _samples(GROUPS[:2]) + _samples(GROUPS[2:], size=3)
    metric = CorruptionMetric(WRAPPED, per_corruption=True)
    with mock.patch('mmmixmo.evaluation.metrics.corruption_metric.print_log'
                    ) as print_log:
        out = _evaluate(metric, samples)
    warnings = [
        call.args[0] for call in print_log.call_args_list
        if call.kwargs.get('level') == logging.WARNING
    ]
    assert 'corruption/calibration/nll' in out
    assert 'corruption/diversity/ratio_errors' not in out
    assert 'corruption/calibration/nll_c' not in out
    # in the snow groups both heads are wrong together: (0 + 0) / N00 = 0
    assert out['corruption/snow/diversity/ratio_errors'] == 0.0
    assert 'corruption/fog/calibration/nll_c' in out
    assert 'corruption/snow/calibration/nll_c' not in out
    # overall: nll_c & co. and ratio_errors; fog: ratio_errors. No snow
    # group has nll_c: nothing to warn about.
    assert len(warnings) == 2
    assert "'calibration/nll_c'" in warnings[0]
    assert "'diversity/ratio_errors'" in warnings[0]
    assert 'only some of the 4 groups (all groups)' in warnings[0]
    assert "['diversity/ratio_errors'] are reported by only some of the 2 " \
        'groups (fog)' in warnings[1]


def test_padding_of_the_last_batch_is_dropped():
    # DDP samplers pad the last batch; BaseMetric keeps the first `size`
    # results, one per sample.
    samples = _samples()
    padded = samples + [_sample(0, False, 'snow', 2)] * 3
    out = _evaluate(
        CorruptionMetric(dict(type='Accuracy')), padded, size=len(samples))
    assert out['corruption/accuracy/top1'] == pytest.approx(62.5)


def test_built_from_the_evaluator_config():
    # As the Runner builds `test_evaluator` (default scope mmpretrain).
    DefaultScope.get_instance(
        'test_corruption_metric', scope_name='mmpretrain')
    evaluator = Evaluator(
        [dict(type='CorruptionMetric', metrics=WRAPPED, per_corruption=True)])
    evaluator.dataset_meta = dict(classes=('a', 'b', 'c'))
    metric = evaluator.metrics[0]
    assert [type(m).__name__ for m in metric.metrics
            ] == ['Accuracy', 'CalibrationMetric', 'EnsembleDiversityMetric']
    assert all(m.dataset_meta == dict(classes=('a', 'b', 'c'))
               for m in metric.metrics)
    evaluator.process(_samples())
    out = evaluator.evaluate(16)
    assert out['corruption/accuracy/top1'] == pytest.approx(62.5)
    # 1 + 9 + 5 keys for snow; ratio_errors is undefined for fog severity 1
    # (no error), so it is left out of the fog and overall means
    assert len(out) == 14 + 14 + 15
    assert 'corruption/snow/diversity/ratio_errors' in out
    assert 'corruption/fog/diversity/ratio_errors' not in out


def test_non_scalar_values_are_averaged_elementwise():
    metric = CorruptionMetric(
        dict(
            type='SingleLabelMetric',
            items=('recall', ),
            average=None,
            num_classes=K))
    out = _evaluate(metric, _samples())
    # recall of classes (0, 1, 2) per group (labels 0, 1, 2, 0, the right
    # ones first): (100, 100, 100), (50, 100, 100), (50, 100, 0),
    # (50, 0, 0) -> mean (62.5, 75, 50)
    assert out['corruption/single-label/recall_classwise'] == \
        pytest.approx([62.5, 75.0, 50.0])


def test_missing_fields_name_pack_inputs():
    samples = _samples()
    samples[2] = _sample(0, True, corruption='fog')
    metric = CorruptionMetric(dict(type='Accuracy'))
    with pytest.raises(KeyError, match="no \\['severity'\\].*PackInputs"):
        _evaluate(metric, samples)


class _PerBatchMetric(BaseMetric):
    """Stores one result per batch (cannot be split into groups)."""
    default_prefix = 'per_batch'

    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))

    def compute_metrics(self, results):
        return dict(count=sum(results))


def test_bad_wrapped_metrics():
    with pytest.raises(ValueError, match='stored 1 results for 5 samples'):
        _evaluate(CorruptionMetric(_PerBatchMetric()), _samples())
    with pytest.raises(
            ValueError, match="two wrapped metrics report "
            "'accuracy/top1'"):
        _evaluate(
            CorruptionMetric([dict(type='Accuracy'),
                              dict(type='Accuracy')]), _samples())
    with pytest.raises(ValueError, match='non-empty list'):
        CorruptionMetric([])
    with pytest.raises(TypeError, match=r'`metrics\[1\]`.*got str'):
        CorruptionMetric([dict(type='Accuracy'), 'Accuracy'])


@pytest.mark.parametrize('field, metric', [
    ('pred_score', 'CalibrationMetric'),
    ('member_logits', 'EnsembleDiversityMetric'),
])
def test_non_finite_input_counted_over_all_groups(spoil, non_finite_error,
                                                  field, metric):
    # samples 0 (fog 1) and 5 (fog 2): 2 of the 16, not 1 of a group's 4;
    # Accuracy (mmpretrain's, first) does not check. Without ensemble_logits
    # CalibrationMetric reads pred_score.
    samples = _samples()
    spoil(samples, [0, 5], field, math.nan)
    with pytest.raises(ValueError) as error:
        _evaluate(CorruptionMetric(WRAPPED), samples)
    assert str(error.value) == non_finite_error(metric, 2, 16, field)
    # a metric alone on one group propagates it too
    spoil(samples, [0], field, math.inf)
    with pytest.raises(ValueError) as error:
        _evaluate(
            CorruptionMetric([cfg for cfg in WRAPPED
                              if cfg['type'] == metric]), samples[:4])
    assert str(error.value) == non_finite_error(metric, 1, 4, field)
