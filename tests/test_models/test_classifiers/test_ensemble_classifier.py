"""EnsembleClassifier: N independently trained classifiers as one model."""
import glob
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.evaluator import Evaluator
from mmengine.optim import OptimWrapper
from mmengine.runner import load_state_dict
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmmixmo  # noqa: F401
from mmmixmo.evaluation.metrics import (CalibrationMetric,
                                        EnsembleDiversityMetric)
from mmmixmo.models.classifiers import EnsembleClassifier
from tests.conftest import REPO_ROOT
from tests.utils.models import randomize_weights

ENSEMBLE_CONFIGS = sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs', 'ensembles', '*.py')))


def vanilla_cfg(num_classes=10):
    """A tiny mmpretrain ImageClassifier (WRN-10-1)."""
    return dict(
        type='ImageClassifier',
        backbone=dict(type='WideResNet', depth=10, widen_factor=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(
            type='LinearClsHead', num_classes=num_classes, in_channels=64))


def mixmo_cfg(average='logits'):
    """A tiny MixMo classifier (M = 2 heads)."""
    return dict(
        type='MixMoClassifier',
        backbone=dict(type='WideResNet', depth=10, widen_factor=1),
        mixing=dict(type='CutOrLinearMixing'),
        head=dict(
            type='MultiHeadClsHead',
            num_classes=10,
            in_channels=64,
            average=average))


def build_member(cfg, seed):
    """Distinct weights with logits of a few units and non-trivial BN."""
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    model.init_weights()
    return randomize_weights(model, linear_std=1.0)


def build_ensemble(models, average='probs', **cfgs):
    """An ensemble holding copies of the weights of `models`."""
    cfgs = cfgs or dict(member=vanilla_cfg(), num_members=len(models))
    model = MODELS.build(
        dict(type='EnsembleClassifier', average=average, **cfgs))
    for target, member in zip(model.members, models):
        target.load_state_dict(member.state_dict())
    return model.eval()


@pytest.fixture(scope='module')
def members():
    return [build_member(vanilla_cfg(), seed) for seed in (0, 1)]


@pytest.fixture(scope='module')
def inputs():
    torch.manual_seed(123)
    return torch.randn(6, 3, 32, 32)


@torch.no_grad()
def member_scores(members, inputs):
    """Each member's own mmpretrain prediction, (N, B, K)."""
    return torch.stack([
        torch.stack([s.pred_score for s in m(inputs, mode='predict')])
        for m in members
    ])


@torch.no_grad()
def test_probs_rule_is_the_mean_of_member_softmaxes(members, inputs):
    preds = build_ensemble(members, 'probs')(inputs, mode='predict')
    logits = torch.stack([m(inputs) for m in members], dim=1)
    expected = member_scores(members, inputs).mean(0)
    scores = torch.stack([p.pred_score for p in preds])
    torch.testing.assert_close(scores, expected, atol=1e-6, rtol=0)
    assert [int(p.pred_label) for p in preds] == expected.argmax(1).tolist()
    torch.testing.assert_close(
        torch.stack([p.member_logits for p in preds]), logits)
    # log(mean p), not the mean of the logits; its softmax is the prediction
    ensemble_logits = torch.stack([p.ensemble_logits for p in preds])
    torch.testing.assert_close(
        ensemble_logits, expected.log(), atol=1e-5, rtol=0)
    torch.testing.assert_close(ensemble_logits.softmax(1), scores)


@torch.no_grad()
def test_logits_rule_is_softmax_of_mean_logits(members, inputs):
    preds = build_ensemble(members, 'logits')(inputs, mode='predict')
    mean_logits = (members[0](inputs) + members[1](inputs)) / 2
    scores = torch.stack([p.pred_score for p in preds])
    torch.testing.assert_close(
        scores, mean_logits.softmax(1), atol=1e-6, rtol=0)
    torch.testing.assert_close(
        torch.stack([p.ensemble_logits for p in preds]), mean_logits)
    # The two rules really differ on these members.
    probs_rule = member_scores(members, inputs).mean(0)
    assert (scores - probs_rule).abs().max() > 1e-2


@torch.no_grad()
def test_tensor_mode_and_features(members, inputs):
    model = build_ensemble(members)
    logits = model(inputs)
    feats = model.extract_feat(inputs)
    assert logits.shape == (6, 2, 10) and logits.dtype == torch.float32
    torch.testing.assert_close(logits[:, 1], members[1](inputs))
    assert not torch.equal(logits[:, 0], logits[:, 1])
    assert len(feats) == 2 and feats[0][-1].shape == (6, 64)
    assert model.num_members == 2


@torch.no_grad()
@pytest.mark.parametrize('average', ['logits', 'probs'])
def test_multi_head_member_contributes_its_own_ensemble(
        members, inputs, average):
    mixmo = build_member(mixmo_cfg(average), 7)
    model = build_ensemble([members[0], mixmo],
                           members=[vanilla_cfg(), mixmo_cfg(average)])
    preds = model(inputs, mode='predict')
    mixmo_preds = mixmo(inputs, mode='predict')
    vanilla_scores = member_scores([members[0]], inputs)[0]
    for b, pred in enumerate(preds):
        heads = mixmo_preds[b].member_logits
        expected = heads.mean(0) if average == 'logits' else \
            heads.softmax(1).mean(0).log()
        torch.testing.assert_close(pred.member_logits[1], expected)
        # MixMo's own prediction is the softmax of that
        torch.testing.assert_close(
            pred.pred_score,
            (vanilla_scores[b] + mixmo_preds[b].pred_score) / 2,
            atol=1e-6,
            rtol=0)


def test_loss_mode_raises_a_clear_error(members, inputs):
    model = build_ensemble(members)
    samples = [DataSample().set_gt_label(0) for _ in range(6)]
    with pytest.raises(RuntimeError, match='evaluation-only'):
        model(inputs, samples, mode='loss')
    model.train()
    batch = dict(
        inputs=[torch.zeros(3, 32, 32, dtype=torch.uint8)] * 2,
        data_samples=samples[:2])
    before = model.members[0].head.fc.weight.clone()
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.))
    with pytest.raises(RuntimeError, match='train each member separately'):
        model.train_step(batch, optim_wrapper)
    assert torch.equal(model.members[0].head.fc.weight, before)
    with pytest.raises(RuntimeError, match='Invalid mode'):
        model(inputs, mode='bogus')


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(), ValueError, 'exactly one of model.member'),
    (dict(member=vanilla_cfg(), num_members=2, members=[vanilla_cfg()] * 2),
     ValueError, 'exactly one of model.member'),
    (dict(member=vanilla_cfg()), ValueError, 'model.num_members'),
    (dict(member=vanilla_cfg(), num_members=1), ValueError,
     'model.num_members must be an int >= 2'),
    (dict(member=vanilla_cfg(), num_members=True), ValueError,
     'model.num_members'),
    (dict(members=[vanilla_cfg()]), ValueError, 'at least 2'),
    (dict(members=vanilla_cfg()), TypeError, 'model.members must be a list'),
    (dict(members=[vanilla_cfg()] * 2, num_members=3), ValueError,
     'model.num_members=3 does not match'),
    (dict(member=vanilla_cfg(), num_members=2, average='mean'), ValueError,
     'model.average'),
    (dict(members=[vanilla_cfg(10), vanilla_cfg(100)]), ValueError,
     r'same number of classes, got head.num_classes \[10, 100\]'),
    (dict(member=dict(type='WideResNet', depth=10), num_members=2),
     TypeError, 'model.member must be a classifier with a head'),
    (dict(member=dict(type='NoSuchClassifier'), num_members=2), KeyError,
     'NoSuchClassifier is not in the mmpretrain::model registry'),
    (dict(members=[vanilla_cfg(), 3]), TypeError,
     r'model.members\[1\] must be a model config dict'),
])
def test_config_errors_name_the_key(kwargs, error, match):
    with pytest.raises(error, match=match):
        MODELS.build(dict(type='EnsembleClassifier', **kwargs))


def test_typeless_preprocessor_defaults_to_cls():
    model = MODELS.build(
        dict(
            type='EnsembleClassifier',
            member=vanilla_cfg(),
            num_members=2,
            data_preprocessor=dict(
                num_classes=10, mean=[1., 2., 3.], std=[2., 2., 2.])))
    assert type(model.data_preprocessor).__name__ == 'ClsDataPreprocessor'
    assert model.data_preprocessor.mean.flatten().tolist() == [1., 2., 3.]


def test_loading_needs_weights_for_every_member(members):
    model = build_ensemble(members)
    member_state = members[0].state_dict()
    # a member checkpoint instead of a merged one: nothing would load
    with pytest.raises(KeyError, match='no weights for ensemble member 0.*'
                       'merge_ensemble_checkpoints.py'):
        load_state_dict(model, member_state, strict=False)
    half = {f'members.0.{k}': v for k, v in member_state.items()}
    with pytest.raises(KeyError, match="member 1 .*'members.1.'"):
        load_state_dict(model, half, strict=False)
    merged = {
        f'members.{i}.{k}': v
        for i, m in enumerate(members[::-1])
        for k, v in m.state_dict().items()
    }
    load_state_dict(model, merged, strict=True)
    torch.testing.assert_close(model.members[0].head.fc.weight,
                               members[1].head.fc.weight)


def test_evaluators_score_the_ensemble_prediction(members, inputs):
    labels = [0, 3, 5, 1, 9, 3]
    model = build_ensemble(members, 'probs')
    samples = [DataSample().set_gt_label(y) for y in labels]
    with torch.no_grad():
        preds = model(inputs, samples, mode='predict')
    evaluator = Evaluator([CalibrationMetric(), EnsembleDiversityMetric()])
    evaluator.process(preds)
    metrics = evaluator.evaluate(len(preds))

    scores = member_scores(members, inputs)
    target = torch.tensor(labels)
    ensemble = scores.mean(0).double()
    nll = -ensemble[torch.arange(6), target].log().mean().item()
    assert metrics['calibration/nll'] == pytest.approx(nll, rel=1e-6)
    # Not the NLL of softmax(mean logits): the rule of the prediction counts.
    logits_rule = torch.stack([p.member_logits.mean(0) for p in preds])
    other = F.cross_entropy(logits_rule.double(), target).item()
    assert abs(other - nll) > 1e-3
    for i in range(2):
        acc = 100 * (scores[i].argmax(1) == target).float().mean().item()
        assert metrics[f'diversity/head{i}_top1'] == pytest.approx(acc)
    disagreement = (scores[0].argmax(1) != scores[1].argmax(1)).float()
    assert metrics['diversity/disagreement'] == pytest.approx(
        disagreement.mean().item())


@pytest.mark.parametrize(
    'path', ENSEMBLE_CONFIGS,
    ids=[osp.basename(p) for p in ENSEMBLE_CONFIGS])
def test_ensemble_configs_wrap_the_member_recipe(path):
    cfg = Config.fromfile(path)
    with open(path) as f:  # the baseline config is the first `_base_`
        base = next(x for x in f if x.startswith('_base_')).split("'")[1]
    base = Config.fromfile(osp.join(osp.dirname(path), base))
    assert cfg.model.type == 'EnsembleClassifier'
    assert cfg.model.average == 'probs'
    assert cfg.model.num_members == (4 if 'de4' in path else 2)
    # The members are exactly the single networks of the baseline config,
    # evaluated with its data, normalisation and evaluators.
    assert cfg.model.member == base.model
    assert cfg.data_preprocessor == base.data_preprocessor
    assert cfg.test_dataloader == base.test_dataloader
    assert [m['type'] for m in cfg.test_evaluator] == [
        'Accuracy', 'CalibrationMetric', 'EnsembleDiversityMetric',
        'SelectivePredictionMetric'
    ]
    # A tiny version builds and predicts N member logits.
    cfg.model.member.backbone.update(
        dict(depth=10, widen_factor=1) if cfg.model.member.backbone.type ==
        'WideResNet' else dict(width=1, base_channels=8))
    cfg.model.member.head.in_channels = 64
    model = MODELS.build(
        dict(cfg.model, data_preprocessor=cfg.data_preprocessor)).eval()
    assert isinstance(model, EnsembleClassifier)
    size = 64 if 'tiny-imagenet' in path else 32
    with torch.no_grad():
        out = model(torch.randn(2, 3, size, size))
    assert out.shape == (2, cfg.model.num_members,
                         cfg.model.member.head.num_classes)
