"""InDistributionMetric: the wrapped metric's numbers on the ID samples."""
import math

import pytest
import torch
from mmengine.evaluator import BaseMetric, Evaluator
from mmengine.registry import DefaultScope
from mmpretrain.evaluation import Accuracy
from mmpretrain.registry import METRICS

import mmmixmo  # noqa: F401  (registers the metrics)
from mmmixmo.evaluation.metrics import (CalibrationMetric,
                                        InDistributionMetric)

# OOD samples (label -1) among the 6 in-distribution ones of conftest
OOD_AT = (1, 4, 5, 9)


def _mixed(make_samples, member_logits, head_labels, with_ood=True):
    """The conftest samples with 4 OOD ones (label -1, random logits)
    inserted at ``OOD_AT``, as an OODDataset marks them."""
    samples = make_samples(head_labels, member_logits)
    for sample in samples:
        sample.set_metainfo(dict(is_ood=False))
    gen = torch.Generator().manual_seed(0)
    ood_logits = torch.randn(4, 2, 3, generator=gen)
    for i, sample in zip(OOD_AT, make_samples([-1] * 4, ood_logits)):
        sample.set_metainfo(dict(is_ood=True))
        samples.insert(i, sample)
    return samples if with_ood else [s for s in samples if not s.is_ood]


def _run(metrics, samples, batch_size=4):
    evaluator = Evaluator(metrics)
    for start in range(0, len(samples), batch_size):
        evaluator.process(samples[start:start + batch_size])
    return evaluator.evaluate(len(samples))


def test_equals_wrapped_metrics_on_the_id_part(make_samples, member_logits,
                                               head_labels):
    samples = _mixed(make_samples, member_logits, head_labels)
    assert len(samples) == 10
    out = _run([
        InDistributionMetric(dict(type='Accuracy', topk=(1, 2))),
        InDistributionMetric(dict(type='CalibrationMetric'))
    ], samples)
    ref = _run([Accuracy(topk=(1, 2)), CalibrationMetric()],
               [s for s in samples if not s.is_ood])
    assert out == ref
    assert list(out)[:4] == [
        'accuracy/top1', 'accuracy/top2', 'calibration/nll',
        'calibration/ece'
    ]
    # conftest: 4 of the 6 in-distribution predictions are right
    assert out['accuracy/top1'] == pytest.approx(400 / 6)
    # the OOD samples would count as errors
    assert _run([Accuracy()], samples)['accuracy/top1'] == pytest.approx(40.)


def test_batches_of_only_ood_samples(make_samples, member_logits,
                                     head_labels):
    # one sample per batch: the wrapped metrics get empty batches
    samples = _mixed(make_samples, member_logits, head_labels)
    types = ('BatchAccuracy', 'CalibrationMetric', 'EnsembleDiversityMetric',
             'SelectivePredictionMetric')
    out = _run([InDistributionMetric(dict(type=t)) for t in types], samples,
               batch_size=1)
    ref = _run([METRICS.build(dict(type=t)) for t in types],
               [s for s in samples if not s.is_ood])
    assert out == ref and 'calibration/nll' in out
    assert out['accuracy/top1'] == pytest.approx(400 / 6)


def test_built_from_the_evaluator_config(make_samples, member_logits,
                                         head_labels):
    # As the Runner builds `test_evaluator` (default scope mmpretrain).
    DefaultScope.get_instance('test_in_distribution', scope_name='mmpretrain')
    evaluator = Evaluator([
        dict(
            type='InDistributionMetric',
            metric=dict(type='Accuracy', collect_device='gpu')),
        dict(
            type='InDistributionMetric',
            metric=dict(type='SelectivePredictionMetric', prefix='sel',
                        collect_dir='/tmp/x')),
        dict(type='OODMetric'),
    ])
    accuracy, selective, _ = evaluator.metrics
    assert type(accuracy.metric) is Accuracy
    assert accuracy.collect_device == 'gpu'
    assert (selective.prefix, selective.collect_dir) == ('sel', '/tmp/x')
    evaluator.dataset_meta = dict(classes=('a', 'b', 'c'))
    assert accuracy.metric.dataset_meta == dict(classes=('a', 'b', 'c'))
    samples = _mixed(make_samples, member_logits, head_labels)
    evaluator.process(samples[:5])
    evaluator.process(samples[5:])
    out = evaluator.evaluate(10)
    assert out['accuracy/top1'] == pytest.approx(400 / 6)
    # acc@80 keeps the 5 most confident of the 6 in-distribution samples,
    # 4 right (the least confident one is wrong)
    assert out['sel/acc@80'] == pytest.approx(80.0)
    # 6 scores (member_logits: the members' and the logit ones) x 4 keys
    assert len([key for key in out if key.startswith('ood/')]) == 24


def _two_ranks(cfg, samples):
    """A metric's results on 2 ranks fed as DefaultSampler does (rank r:
    samples r::2, padded by repeating the first ones), gathered as
    mmengine's ``collect_results`` (interleaved, cut to ``len(samples)``),
    then computed."""
    padded = samples + samples[:len(samples) % 2]
    parts = []
    for rank in range(2):
        metric = METRICS.build(cfg)
        metric.process(None, [s.to_dict() for s in padded[rank::2]])
        parts.append(metric.results)
    gathered = [res for pair in zip(*parts) for res in pair]
    metric = METRICS.build(cfg)
    out = metric.compute_metrics(gathered[:len(samples)])
    return {f'{metric.prefix}/{key}': value for key, value in out.items()}


@pytest.mark.parametrize('cfg', [
    dict(type='InDistributionMetric', metric=dict(type='Accuracy')),
    dict(type='InDistributionMetric', metric=dict(type='BatchAccuracy')),
    dict(type='InDistributionMetric', metric=dict(type='CalibrationMetric')),
    dict(
        type='InDistributionMetric',
        metric=dict(type='SelectivePredictionMetric', coverages=(0.5, 0.9))),
    dict(type='OODMetric'),
    dict(type='SelectivePredictionMetric', coverages=(0.5, 0.9)),
])
def test_two_ranks_equal_one_pass(make_samples, member_logits, head_labels,
                                  cfg):
    # 9 samples: rank 1 is padded with sample 0, in-distribution and right
    # (counted twice, the accuracy would be 5 / 7)
    samples = _mixed(make_samples, member_logits, head_labels)[:9]
    one_pass = METRICS.build(cfg)
    one_pass.process(None, [s.to_dict() for s in samples])
    ref = one_pass.evaluate(len(samples))
    assert _two_ranks(cfg, samples) == ref
    if cfg['type'] == 'InDistributionMetric' and \
            cfg['metric']['type'].endswith('Accuracy'):
        assert ref['accuracy/top1'] == pytest.approx(400 / 6)


def test_samples_without_is_ood_are_in_distribution(
        make_samples, member_logits, head_labels):
    samples = make_samples(head_labels, member_logits)
    assert _run([InDistributionMetric(dict(type='CalibrationMetric'))],
                samples) == _run([CalibrationMetric()], samples)


def test_results_keep_one_entry_per_sample(make_samples, member_logits,
                                           head_labels):
    samples = _mixed(make_samples, member_logits, head_labels)
    metric = InDistributionMetric(dict(type='Accuracy'))
    metric.process(None, [s.to_dict() for s in samples[4:6]])  # all OOD
    metric.process(None, [s.to_dict() for s in samples[:4]])
    assert [res['is_ood'] for res in metric.results
            ] == [True, True, False, True, False, False]
    assert [res['result'] for res in metric.results[:2]] == [None, None]
    assert metric.results[3]['result'] is None
    assert metric.results[4]['result']['gt_label'].tolist() == [1]
    assert metric.metric.results == []


class _PerBatchMetric(BaseMetric):
    """Stores one result per batch."""
    default_prefix = 'per_batch'

    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))

    def compute_metrics(self, results):
        return dict(count=sum(results))


def test_bad_wrapped_metrics(make_samples, member_logits, head_labels):
    samples = _mixed(make_samples, member_logits, head_labels)
    with pytest.raises(ValueError, match='stored 1 results for 3 samples'):
        InDistributionMetric(_PerBatchMetric()).process(
            None, [s.to_dict() for s in samples[:4]])
    with pytest.raises(TypeError, match='`metric`.*got str'):
        InDistributionMetric('Accuracy')


def test_non_finite_input_of_the_wrapped_metric(make_samples, member_logits,
                                                head_labels, spoil,
                                                non_finite_error):
    samples = _mixed(make_samples, member_logits, head_labels)
    ref = _run([InDistributionMetric(dict(type='CalibrationMetric'))],
               samples)
    # an OOD sample's ensemble_logits are not read
    spoil(samples, [1, 9], 'ensemble_logits', math.nan)
    assert _run([InDistributionMetric(dict(type='CalibrationMetric'))],
                samples) == ref
    # in-distribution samples 0 and 7, in two batches: counted among the 6
    # in-distribution ones
    spoil(samples, [0, 7], 'ensemble_logits', math.inf)
    with pytest.raises(ValueError) as error:
        _run([InDistributionMetric(dict(type='CalibrationMetric'))],
             samples)
    assert str(error.value) == non_finite_error('CalibrationMetric', 2, 6,
                                                'ensemble_logits')


def test_two_ranks_count_all_non_finite_samples(make_samples, member_logits,
                                                head_labels, spoil,
                                                non_finite_error):
    # samples 2 (rank 0) and 3 (rank 1), both in-distribution
    samples = _mixed(make_samples, member_logits, head_labels)[:9]
    spoil(samples, [2, 3], 'pred_score', -math.inf)
    with pytest.raises(ValueError) as error:
        _two_ranks(
            dict(type='InDistributionMetric',
                 metric=dict(type='SelectivePredictionMetric')), samples)
    assert str(error.value) == non_finite_error('SelectivePredictionMetric',
                                                2, 6, 'pred_score')
    with pytest.raises(ValueError) as error:
        _two_ranks(dict(type='OODMetric'), samples)
    assert str(error.value) == non_finite_error('OODMetric', 2, 9,
                                                'pred_score')


def test_no_in_distribution_sample(make_samples, member_logits, head_labels):
    samples = [
        s for s in _mixed(make_samples, member_logits, head_labels) if s.is_ood
    ]
    with pytest.raises(ValueError) as error:
        _run([InDistributionMetric(dict(type='CalibrationMetric'))],
             samples, batch_size=3)
    assert str(error.value) == (
        'InDistributionMetric(CalibrationMetric): none of the 4 samples is '
        'in-distribution (is_ood False); check '
        '`test_dataloader.dataset.in_dist`')
