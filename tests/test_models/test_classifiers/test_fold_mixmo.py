import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmpretrain.registry import MODELS
from torch import nn

import mmmixmo  # noqa: F401
from mmmixmo.models.classifiers import fold_mixmo
from mmmixmo.models.utils import build_calibration
from tests.conftest import REPO_ROOT
from tests.utils.models import randomize_weights

PREPROCESSOR = dict(
    type='MixMoDataPreprocessor',
    mean=[125.3, 123.0, 113.9],
    std=[51.6, 50.8, 51.3],
    to_rgb=True)
WRN = dict(type='WideResNet', depth=10, widen_factor=1)
# A first convolution with a bias (patch embedding) and flat features.
VIT = dict(
    type='VisionTransformer',
    arch=dict(embed_dims=32, num_layers=1, num_heads=2,
              feedforward_channels=64),
    img_size=32,
    patch_size=8,
    out_type='cls_token',
    patch_cfg=dict(padding=0))


def mixmo_cfg(num_members=2, backbone=WRN, **kwargs):
    return dict(
        type='MixMoClassifier',
        num_members=num_members,
        backbone=backbone,
        mixing=dict(type='CutOrLinearMixing'),
        head=dict(type='MultiHeadClsHead', num_classes=10, in_channels=64),
        data_preprocessor=PREPROCESSOR,
        **kwargs)


def build_mixmo(cfg):
    model = MODELS.build(cfg)
    model.init_weights()
    return randomize_weights(model, linear_std=0.2)


def num_params(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('num_members', [2, 3])
def test_weights_are_summed_encoders_and_mean_heads(num_members):
    cfg = mixmo_cfg(num_members)
    state = build_mixmo(cfg).state_dict()
    before = copy.deepcopy(state)
    folded_cfg, weights = fold_mixmo(cfg, state)

    convs = [state[f'encoders.convs.{i}.weight'] for i in range(num_members)]
    assert torch.equal(weights['backbone.conv1.weight'], sum(convs[1:],
                                                             convs[0]))
    fc_weight = state['head.fc.weight'].view(num_members, 10, 64)
    fc_bias = state['head.fc.bias'].view(num_members, 10)
    torch.testing.assert_close(weights['head.fc.weight'],
                               sum(fc_weight) / num_members)
    torch.testing.assert_close(weights['head.fc.bias'],
                               sum(fc_bias) / num_members)
    # Everything else is the MixMo model's, the input is left untouched.
    for key, value in weights.items():
        if key not in ('backbone.conv1.weight', 'head.fc.weight',
                       'head.fc.bias'):
            assert torch.equal(value, state[key]), key
    assert all(torch.equal(state[key], before[key]) for key in before)
    # The keys and shapes of the vanilla network's weights.
    vanilla = MODELS.build(folded_cfg).state_dict()
    assert {k: v.shape for k, v in weights.items()} == \
        {k: v.shape for k, v in vanilla.items()}


def test_config_is_the_vanilla_classifier():
    cfg = mixmo_cfg()
    folded_cfg, _ = fold_mixmo(cfg, build_mixmo(cfg).state_dict())
    assert folded_cfg == dict(
        type='ImageClassifier',
        backbone=WRN,
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64),
        data_preprocessor=dict(
            PREPROCESSOR, type='ClsDataPreprocessor', num_classes=10))
    assert cfg == mixmo_cfg()  # not modified
    vit = mixmo_cfg(3, VIT, neck=None, encoder_layer='patch_embed.projection')
    folded_cfg, _ = fold_mixmo(vit, build_mixmo(vit).state_dict())
    assert folded_cfg.neck is None and folded_cfg.backbone == VIT


@pytest.mark.parametrize('num_members,backbone,extra', [
    (2, WRN, {}),
    (3, WRN, {}),
    (3, VIT, dict(neck=None, encoder_layer='patch_embed.projection')),
])
def test_folded_network_predicts_the_mixmo_ensemble(num_members, backbone,
                                                    extra):
    cfg = mixmo_cfg(num_members, backbone, **extra)
    if backbone is VIT:
        cfg['head']['in_channels'] = 32
    model = build_mixmo(cfg)
    folded_cfg, weights = fold_mixmo(cfg, model.state_dict())
    folded = MODELS.build(folded_cfg).eval()
    folded.load_state_dict(weights, strict=True)
    raw = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        samples = model.test_step(dict(inputs=raw))
        got = torch.stack(
            [s.pred_score for s in folded.test_step(dict(inputs=raw))])
        logits = folded(model.data_preprocessor(dict(inputs=raw))['inputs'],
                        mode='tensor')
    want = torch.stack([s.pred_score for s in samples])
    heads = torch.stack([s.member_logits for s in samples])
    assert want.max(1).values.min() > 0.15  # not a uniform prediction
    assert (heads[:, 0] - heads[:, 1]).abs().max() > 0.5  # heads disagree
    assert (got - want).abs().max() <= 1e-5
    assert (logits - heads.mean(1)).abs().max() <= 1e-5
    if backbone is VIT:  # the biases of the first convolutions are summed
        biases = [model.encoders.convs[i].bias for i in range(num_members)]
        torch.testing.assert_close(
            folded.backbone.patch_embed.projection.bias, sum(biases))


def test_wrn28_10_cifar100_has_the_vanilla_parameters():
    cfg = Config.fromfile(
        f'{REPO_ROOT}/configs/_base_/models/mixmo_wrn28-10_cifar100.py')
    mixmo = MODELS.build(cfg.model)
    folded_cfg, weights = fold_mixmo(cfg.model, mixmo.state_dict())
    folded = MODELS.build(folded_cfg)
    folded.load_state_dict(weights, strict=True)
    assert num_params(mixmo) == 36_601_416
    assert num_params(folded) == 36_536_884
    vanilla = MODELS.build(
        Config.fromfile(
            f'{REPO_ROOT}/configs/_base_/models/wrn28-10_cifar100.py').model)
    assert [(k, p.shape) for k, p in folded.named_parameters()] == \
        [(k, p.shape) for k, p in vanilla.named_parameters()]


class TensorMode(nn.Module):
    """``forward(inputs, mode='tensor')`` as a one-argument module."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, inputs):
        return self.classifier(inputs, mode='tensor')


def flops(classifier, inputs):
    analyzer = FlopAnalyzer(TensorMode(classifier.eval()), (inputs, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.total()


@pytest.mark.parametrize('num_members', [2, 3])
def test_flops_equal_the_vanilla_network(num_members):
    cfg = mixmo_cfg(num_members)
    model = build_mixmo(cfg)
    folded_cfg, weights = fold_mixmo(cfg, model.state_dict())
    folded = MODELS.build(folded_cfg)
    folded.load_state_dict(weights)
    vanilla = MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=WRN,
            neck=dict(type='GlobalAveragePooling'),
            head=dict(type='LinearClsHead', num_classes=10, in_channels=64)))
    inputs = torch.randn(2, 3, 32, 32)
    assert flops(folded, inputs) == flops(vanilla, inputs)
    # MixMo itself sums its encoders at test time and pays for M - 1 more
    # Linear(64, 10) heads (FlopAnalyzer counts multiply-adds).
    assert flops(model, inputs) - flops(vanilla, inputs) == \
        (num_members - 1) * 2 * 64 * 10


def test_probability_average_does_not_fold():
    cfg = mixmo_cfg()
    state_dict = build_mixmo(cfg).state_dict()
    cfg['head'] = dict(cfg['head'], average='probs')
    with pytest.raises(ValueError, match="model.head.average='probs'"):
        fold_mixmo(cfg, state_dict)


@pytest.mark.parametrize('num_members,average', [(2, 'logits'), (3, 'probs')])
def test_keep_heads_predicts_like_the_mixmo_model(num_members, average):
    cfg = mixmo_cfg(num_members)
    cfg['head'] = dict(cfg['head'], average=average)
    model = build_mixmo(cfg).eval()
    state = model.state_dict()
    folded_cfg, weights = fold_mixmo(cfg, state, keep_heads=True)
    assert folded_cfg.head == dict(
        type='MultiHeadClsHead',
        num_classes=10,
        in_channels=64,
        average=average,
        num_members=num_members)
    assert folded_cfg.backbone == WRN and cfg == dict(
        mixmo_cfg(num_members), head=dict(cfg['head']))  # not modified
    for name in ('weight', 'bias'):  # the M heads unchanged
        assert torch.equal(weights[f'head.fc.{name}'],
                           state[f'head.fc.{name}'])
    convs = [state[f'encoders.convs.{i}.weight'] for i in range(num_members)]
    assert torch.equal(weights['backbone.conv1.weight'], sum(convs[1:],
                                                             convs[0]))
    folded = MODELS.build(folded_cfg).eval()
    folded.load_state_dict(weights, strict=True)
    # The vanilla network plus M - 1 more Linear(64, 10) heads.
    assert num_params(folded) == 77_850 + (num_members - 1) * 650

    raw = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        want = model.test_step(dict(inputs=raw))
        got = folded.test_step(dict(inputs=raw))
        logits = folded(folded.data_preprocessor(dict(inputs=raw))['inputs'],
                        mode='tensor')
    heads = torch.stack([s.member_logits for s in want])
    assert logits.shape == (6, num_members, 10)
    assert (heads[:, 0] - heads[:, 1]).abs().max() > 0.5  # heads disagree
    assert (logits - heads).abs().max() <= 1e-6
    for key in ('member_logits', 'pred_score', 'ensemble_logits'):
        diff = torch.stack([s.get(key) - w.get(key)
                            for s, w in zip(got, want)]).abs().max()
        assert diff <= 1e-6, key
    assert [int(s.pred_label) for s in got] == \
        [int(s.pred_label) for s in want]
    # 'probs' is the mean of the heads' probabilities, not of their logits.
    mean_probs = heads.softmax(2).mean(1)
    mean_logits = heads.mean(1).softmax(1)
    scores = torch.stack([s.pred_score for s in got])
    torch.testing.assert_close(
        scores, mean_probs if average == 'probs' else mean_logits)
    assert (mean_probs - mean_logits).abs().max() > 1e-3


def test_calibrated_model_folds_into_a_calibrated_vanilla_classifier():
    """The same temperature and conformal sets: the folded model predicts
    the MixMo model's calibrated scores and sets."""
    cfg = mixmo_cfg()
    model = build_mixmo(cfg).eval()
    raw = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        logits = torch.stack(
            [s.ensemble_logits for s in model.test_step(dict(inputs=raw))])
    # a LAC threshold halfway between two scores: sets of several sizes
    scores = (1 - F.softmax(logits / 0.5, dim=1)).flatten().sort().values
    threshold = float(scores[20:22].mean())
    cfg['calibration'] = dict(temperature=0.5, conformal=dict(
        score='lac', alpha=0.1, threshold=threshold))
    model.calibration = build_calibration(cfg['calibration'])
    folded_cfg, weights = fold_mixmo(cfg, model.state_dict())
    assert folded_cfg.type == 'VanillaClassifier'
    assert folded_cfg.calibration == cfg['calibration']
    assert fold_mixmo(cfg, model.state_dict(), keep_heads=True)[0].type == \
        'VanillaClassifier'
    folded = MODELS.build(folded_cfg).eval()
    folded.load_state_dict(weights, strict=True)
    with torch.no_grad():
        want = model.test_step(dict(inputs=raw))
        got = folded.test_step(dict(inputs=raw))
    sets = torch.stack([s.pred_set for s in want])
    assert len(set(sets.sum(1).tolist())) > 1
    assert torch.equal(torch.stack([s.pred_set for s in got]), sets)
    for key in ('pred_score', 'ensemble_logits'):
        diff = torch.stack([s.get(key) - w.get(key)
                            for s, w in zip(got, want)]).abs().max()
        assert diff <= 1e-5, key
    torch.testing.assert_close(
        torch.stack([s.pred_score for s in want]).double(),
        F.softmax(logits / 0.5, dim=1), atol=1e-6, rtol=0)
