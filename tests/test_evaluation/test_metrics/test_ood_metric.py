"""OODMetric against hand values, scikit-learn and independent scores."""
import itertools
import logging
import math
from unittest import mock

import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.registry import METRICS
from sklearn.metrics import average_precision_score, roc_auc_score

import mmmixmo  # noqa: F401  (registers the metrics)
from mmmixmo.evaluation.metrics import OODMetric

KEYS = ('auroc', 'aupr_in', 'aupr_out', 'fpr95')
# max_prob uncertainties: 20 in-distribution ones, .01 to .19 and .8, and
# 4 OOD ones (.15 ties with an in-distribution one)
U_IN = [i / 100 for i in range(1, 20)] + [0.8]
U_OOD = [0.15, 0.5, 0.6, 0.85]


def _samples(make_samples, is_ood, member_logits=None, probs=None):
    """Samples as an OODDataset gives them: ``is_ood``, OOD labels -1."""
    labels = [-1 if ood else 0 for ood in is_ood]
    samples = make_samples(labels, member_logits, probs)
    for sample, ood in zip(samples, is_ood):
        sample.set_metainfo(dict(is_ood=bool(ood)))
    return samples


def _evaluate(metric, samples):
    metric.process(None, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def _hand_probs(uncertainty):
    """10-class rows ``[1 - u, u / 9, ..., u / 9]``: max_prob is ``u``."""
    u = torch.tensor(uncertainty, dtype=torch.float64)[:, None]
    return torch.cat([1 - u, (u / 9).expand(-1, 9)], 1)


def _fpr95(u, is_ood):
    """Share of OOD samples at most as uncertain as the ceil(95 %)-th least
    uncertain in-distribution one."""
    u_in = u[~is_ood].sort().values
    return float((u[is_ood] <= u_in[-(-19 * len(u_in) // 20) - 1]).double()
                 .mean())


def _check_against_sklearn(out, name, u, is_ood):
    assert out[f'ood/{name}/auroc'] == pytest.approx(
        roc_auc_score(is_ood, u), abs=1e-12)
    assert out[f'ood/{name}/aupr_in'] == pytest.approx(
        average_precision_score(~is_ood, -u), abs=1e-12)
    assert out[f'ood/{name}/aupr_out'] == pytest.approx(
        average_precision_score(is_ood, u), abs=1e-12)
    assert out[f'ood/{name}/fpr95'] == pytest.approx(_fpr95(u, is_ood))


def test_vanilla_model_by_hand(make_samples):
    is_ood = torch.tensor([False] * 20 + [True] * 4)
    probs = _hand_probs(U_IN + U_OOD)
    evaluator = Evaluator([METRICS.build(dict(type='OODMetric'))])
    evaluator.dataset_meta = dict(classes=tuple('0123456789'))
    samples = _samples(make_samples, is_ood, probs=probs)
    evaluator.process(samples[:15])
    evaluator.process(samples[15:])
    out = evaluator.evaluate(24)
    # pred_score only: max_prob and entropy
    assert list(out) == [
        f'ood/{name}/{key}' for name in ('max_prob', 'entropy')
        for key in KEYS
    ]
    # OOD .15 beats 14 and ties 1 of the 20, .5 and .6 beat 19, .85 all
    assert out['ood/max_prob/auroc'] == pytest.approx(72.5 / 80)
    # 19 in-distribution samples (95 %) are accepted at u <= .19, with the
    # OOD .15: 1 of 4 (all 20 would take u <= .8: 3 of 4)
    assert out['ood/max_prob/fpr95'] == 0.25
    # OOD first: .85 (P 1), .8 in, .6 (2/3), .5 (3/4), .19 to .16 in, .15
    # with the tied in one (4/10)
    assert out['ood/max_prob/aupr_out'] == pytest.approx(
        (1 + 2 / 3 + 3 / 4 + 4 / 10) / 4)
    # in first: 14 at P 1, then 15/16 with the tie, 16/17 ... 19/20, and
    # .8 after 3 OOD: 20/23
    assert out['ood/max_prob/aupr_in'] == pytest.approx(
        (14 + sum(n / (n + 1) for n in range(15, 20)) + 20 / 23) / 20)
    u = 1 - probs.float().double().max(1).values
    _check_against_sklearn(out, 'max_prob', u, is_ood)
    # the entropy grows with u here (u < .9): same ranks, same values
    for key in KEYS:
        assert out[f'ood/entropy/{key}'] == out[f'ood/max_prob/{key}']


def test_multi_head_model_against_independent_scores(make_samples):
    gen = torch.Generator().manual_seed(0)
    # 3 heads, 4 classes, correlated; the 15 OOD samples have flatter
    # logits
    member_logits = torch.randn(45, 1, 4, generator=gen) * 2 + torch.randn(
        45, 3, 4, generator=gen)
    member_logits[:30] *= 3
    is_ood = torch.arange(45) >= 30
    out = _evaluate(OODMetric(),
                    _samples(make_samples, is_ood, member_logits))
    assert len(out) == 24
    logits = member_logits.double().mean(1)
    probs = logits.softmax(1)
    members = member_logits.double().softmax(2)

    def entropy(p):
        return -(p * p.log()).sum(-1)

    preds = members.argmax(2).tolist()
    scores = dict(
        max_prob=1 - probs.max(1).values,
        entropy=entropy(probs),
        mutual_information=entropy(members.mean(1)) -
        entropy(members).mean(1),
        disagreement=torch.tensor([
            sum(a != b for a, b in itertools.combinations(p, 2)) / 3
            for p in preds
        ], dtype=torch.float64),
        energy=-logits.exp().sum(1).log(),
        max_logit=-logits.max(1).values)
    # disagreement takes 3 values: many ties
    assert scores['disagreement'].unique().tolist() == [0, 2 / 3, 1]
    for name, u in scores.items():
        _check_against_sklearn(out, name, u, is_ood)
    # flatter OOD logits are detected
    assert out['ood/entropy/auroc'] > 0.8


def test_ensemble_and_single_head(make_samples):
    # An EnsembleClassifier's member_logits are its members' logits (N, K);
    # with a single head (M = 1) only the vanilla scores exist.
    is_ood = torch.tensor([False, True, False, True])
    member_logits = torch.tensor([[[3., 0.], [2., 0.]], [[1., 0.], [0., 1.]],
                                  [[0., 2.], [0., 3.]], [[0., 1.], [1., 0.]]])
    out = _evaluate(OODMetric(scores=('disagreement', 'max_prob')),
                    _samples(make_samples, is_ood, member_logits))
    assert list(out) == [f'ood/{name}/{key}'
                         for name in ('disagreement', 'max_prob')
                         for key in KEYS]
    # the members disagree exactly on the OOD samples
    assert out['ood/disagreement/auroc'] == 1.0
    assert out['ood/disagreement/fpr95'] == 0.0
    out = _evaluate(OODMetric(),
                    _samples(make_samples, is_ood, member_logits[:, :1]))
    assert list(out) == [f'ood/{name}/{key}'
                         for name in ('max_prob', 'entropy', 'energy',
                                      'max_logit')
                         for key in KEYS]


def test_results_hold_only_the_scores(make_samples):
    metric = OODMetric(scores='entropy')
    samples = _samples(make_samples, [False, True],
                       probs=torch.tensor([[0.5, 0.5], [1.0, 0.0]]))
    metric.process(None, [s.to_dict() for s in samples])
    assert metric.results == [
        dict(is_ood=False, scores=dict(entropy=pytest.approx(0.693147))),
        dict(is_ood=True, scores=dict(entropy=0.0))
    ]


def test_one_part_only_reports_nothing(make_samples):
    samples = _samples(make_samples, [False] * 3, probs=_hand_probs(U_OOD[:3]))
    with mock.patch('mmmixmo.evaluation.metrics.ood_metric.print_log') as log:
        assert _evaluate(OODMetric(), samples) == {}
    assert log.call_args.kwargs['level'] == logging.WARNING
    assert '0 of 3 samples are OOD' in log.call_args.args[0]


@pytest.mark.parametrize('scores', [('entropy', 'logit'), (), 'max',
                                    ('entropy', 'entropy'), 3])
def test_bad_scores(scores):
    with pytest.raises(ValueError, match='scores'):
        OODMetric(scores=scores)


def test_user_mistakes(make_samples, member_logits):
    probs = _hand_probs(U_OOD)
    samples = make_samples([0] * 4, probs=probs)
    with pytest.raises(KeyError, match='`is_ood`.*OODDataset'):
        _evaluate(OODMetric(), samples)
    samples = _samples(make_samples, [False, True] * 2, probs=probs)
    with pytest.raises(ValueError,
                       match=r"\['mutual_information'\] need `member_logits`"):
        _evaluate(OODMetric(scores=['entropy', 'mutual_information']),
                  samples)
    with pytest.raises(ValueError) as error:
        _evaluate(OODMetric(scores=['max_logit', 'disagreement', 'energy']),
                  samples)
    assert str(error.value) == (
        "OODMetric: scores ['disagreement'] need `member_logits` (M, K) with "
        "M >= 2 (a multi-head model or an ensemble); scores ['max_logit', "
        "'energy'] need logits: `ensemble_logits` or `member_logits`, written "
        "by MixMo models, deep ensembles and mmmixmo's single-network "
        'classifier; the samples have none')
    logits = samples[1].pred_score.log()
    samples[1].set_field(logits, 'ensemble_logits')
    with pytest.raises(ValueError, match='`member_logits` or `ensemble_logits`'
                       ' is on 1 of 4 samples'):
        _evaluate(OODMetric(), samples)
    samples[1] = _samples(make_samples, [True], probs=probs[1:2])[0]
    mixed = samples[:2] + _samples(make_samples, [True], member_logits[:1])
    with pytest.raises(ValueError, match='`member_logits`.* 1 of 3'):
        _evaluate(OODMetric(), mixed)
    # across batches: checked on the gathered results
    metric = OODMetric()
    metric.process(None, [s.to_dict() for s in mixed[:2]])
    metric.process(None, [mixed[2].to_dict()])
    with pytest.raises(ValueError, match='same scores'):
        metric.evaluate(3)
    sample = samples[0].to_dict()
    del sample['pred_score']
    with pytest.raises(KeyError, match='pred_score'):
        OODMetric().process(None, [sample])


def test_member_logits_must_be_members_by_classes(make_samples):
    probs = _hand_probs(U_OOD)
    samples = _samples(make_samples, [False, True] * 2, probs=probs)
    for sample in samples:  # (K, ): one row, not (M, K)
        sample.set_field(torch.randn(probs.size(1)), 'member_logits')
    with pytest.raises(ValueError, match=r'`member_logits` must be \(M, K\)'):
        _evaluate(OODMetric(), samples)


def _random_heads(num=12):
    """``num`` samples, the second half OOD, with 3 heads of 4 classes."""
    member_logits = torch.randn(
        num, 3, 4, generator=torch.Generator().manual_seed(0))
    return torch.arange(num) >= num // 2, member_logits


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize('field', ['pred_score', 'member_logits'])
def test_non_finite_input_raises(make_samples, spoil, non_finite_error,
                                 field, value):
    is_ood, member_logits = _random_heads()
    samples = _samples(make_samples, is_ood, member_logits)
    spoil(samples, [2, 9], field, value)
    evaluator = Evaluator([OODMetric()])
    for start in range(0, 12, 5):
        evaluator.process(samples[start:start + 5])
    with pytest.raises(ValueError) as error:
        evaluator.evaluate(12)
    assert str(error.value) == non_finite_error('OODMetric', 2, 12, field)


def test_non_finite_in_both_fields(make_samples, spoil):
    # also with only max_prob asked for: every field read is checked
    is_ood, member_logits = _random_heads()
    samples = _samples(make_samples, is_ood, member_logits)
    spoil(samples, [0, 7, 11], 'pred_score', math.nan)
    spoil(samples, [7], 'member_logits', math.inf)
    with pytest.raises(ValueError) as error:
        _evaluate(OODMetric(scores='max_prob'), samples)
    assert str(error.value) == (
        'OODMetric: NaN or inf in `member_logits` of 1 of 12 samples, '
        '`pred_score` of 3 of 12 samples; no metric is computed from them: '
        'check the model/checkpoint (a diverged training?)')


# A single network's logits: in-distribution (3, 0), (1, 1); OOD (.5, 0),
# (1.5, -5)
SINGLE_LOGITS = torch.tensor([[3.0, 0.0], [1.0, 1.0], [0.5, 0.0],
                              [1.5, -5.0]])
SINGLE_OOD = [False, False, True, True]
# -logsumexp: -log(e^3 + 1), -(1 + ln 2), -log(e^.5 + 1),
# -(1.5 + log(1 + e^-6.5))
ENERGY = [-3.048587, -1.693147, -0.974077, -1.501503]


def _single_network(make_samples, logits=SINGLE_LOGITS):
    samples = _samples(make_samples, SINGLE_OOD, probs=logits.softmax(1))
    for sample, row in zip(samples, logits):
        sample.set_field(row, 'ensemble_logits')
    return samples


def _process(metric, samples):
    """``metric.process`` the samples; their stored scores by name."""
    metric.process(None, [s.to_dict() for s in samples])
    return {name: [res['scores'][name] for res in metric.results]
            for name in metric.results[0]['scores']}


def test_energy_and_max_logit_by_hand(make_samples):
    metric = OODMetric(scores=('energy', 'max_logit'))
    scores = _process(metric, _single_network(make_samples))
    assert scores['energy'] == pytest.approx(ENERGY, abs=1e-6)
    assert scores['max_logit'] == [-3.0, -1.0, -0.5, -1.5]
    out = metric.evaluate(4)
    # energy: both OOD above both in -> 1; max_logit: -1.5 is below the
    # in-distribution -1 -> 3 of 4 pairs
    assert out['ood/energy/auroc'] == 1.0
    assert out['ood/max_logit/auroc'] == 0.75
    # the OOD -1.5 ranks second: recall 1/2 at P 1, 1 at P 2/3
    assert out['ood/max_logit/aupr_out'] == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert out['ood/energy/fpr95'] == 0.0


def test_energy_of_mixmo_and_ensembles(make_samples):
    # two heads whose mean is twice SINGLE_LOGITS; at T = 2 the scores are
    # those of the single network, whatever the ensemble_logits (here the
    # log of the mean probabilities, as an ensemble averaging them)
    heads = torch.tensor([[[6., 0.], [6., 0.]], [[4., 0.], [0., 4.]],
                          [[2., 0.], [0., 0.]], [[3., -10.], [3., -10.]]])
    samples = _samples(make_samples, SINGLE_OOD, heads)
    for sample in samples:
        sample.set_field(2.0, 'temperature', field_type='metainfo')
        sample.set_field(sample.member_logits.softmax(1).mean(0).log(),
                         'ensemble_logits')
    metric = OODMetric(scores=('energy', 'max_logit'))
    scores = _process(metric, samples)
    assert scores['energy'] == pytest.approx(ENERGY, abs=1e-6)
    assert scores['max_logit'] == [-3.0, -1.0, -0.5, -1.5]
    out = metric.evaluate(4)
    assert out['ood/energy/auroc'] == 1.0
    assert out['ood/max_logit/auroc'] == 0.75
    # without `temperature`: T = 1, the mean logits: energy -log(e^6 + 1)
    scores = _process(OODMetric(scores='energy'),
                      _samples(make_samples, SINGLE_OOD, heads))
    assert scores['energy'][0] == pytest.approx(-6.002476, abs=1e-6)


@pytest.mark.parametrize('field', ['ensemble_logits', 'temperature'])
def test_non_finite_logits_or_temperature(make_samples, non_finite_error,
                                          field):
    if field == 'ensemble_logits':
        samples = _single_network(make_samples)
        spoil_logits = samples[2].ensemble_logits.clone()
        spoil_logits[1] = math.inf
        samples[2].set_field(spoil_logits, field)
    else:
        samples = _samples(make_samples, SINGLE_OOD,
                           SINGLE_LOGITS[:, None].expand(4, 2, 2))
        samples[2].set_field(math.nan, field, field_type='metainfo')
    with pytest.raises(ValueError) as error:
        _evaluate(OODMetric(scores='max_prob'), samples)
    assert str(error.value) == non_finite_error('OODMetric', 1, 4, field)
    # a NaN ensemble_logits is not read when member_logits is there
    samples = _samples(make_samples, SINGLE_OOD,
                       SINGLE_LOGITS[:, None].expand(4, 2, 2))
    samples[0].set_field(torch.full((2, ), math.nan), 'ensemble_logits')
    assert _evaluate(OODMetric(scores='energy'),
                     samples)['ood/energy/auroc'] == 1.0
