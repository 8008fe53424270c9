"""Starting a MixMo model from a single network's weights (issue 19).

Every loading path (the backbone's ``init_cfg`` Pretrained, ``load_from``,
``load_state_dict``, mmengine's ``load_checkpoint``, the project's strict
loader) must give a MixMo model that, at step 0, predicts exactly what the
single network predicts; :func:`unfold_mixmo` must be the exact inverse of
:func:`fold_mixmo` on a single network's weights.
"""
import copy
import logging
import math
import re
import uuid

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from mmengine.runner import Runner, load_checkpoint
from mmpretrain.registry import MODELS
from torch import nn

import mmmixmo  # noqa: F401
from mmmixmo.models.backbones.preact_backbone import AUTHORS_INIT_CFG
from mmmixmo.models.classifiers import fold_mixmo, unfold_mixmo
from mmmixmo.models.utils.member_encoders import fold_members, unfold_members
from mmmixmo.utils.checkpoint_loading import (CheckpointMismatchError,
                                              load_state_dict_checked)
from tests.utils.models import randomize_weights

NORMALIZE = dict(
    mean=[125.3, 123.0, 113.9], std=[51.6, 50.8, 51.3], to_rgb=True)
GAP = dict(type='GlobalAveragePooling')
WRN = dict(type='WideResNet', depth=10, widen_factor=1)
RESNET = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8)
# Patches of 6 do not divide 32: AdaptivePadding pads the images to 36
# before the first convolution (which has a bias).
VIT = dict(
    type='VisionTransformer',
    arch=dict(
        embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64),
    img_size=32,
    patch_size=6,
    out_type='cls_token')
# name: backbone, neck, features, the single network's head, first conv
NETS = {
    'wrn': (WRN, GAP, 64, 'LinearClsHead', 'conv1'),
    'resnet': (RESNET, GAP, 64, 'LinearClsHead', 'conv1'),
    'vit': (VIT, None, 32, 'VisionTransformerClsHead',
            'patch_embed.projection'),
}
SINGLE_HEAD = {
    'LinearClsHead': 'fc',
    'VisionTransformerClsHead': 'layers.head'
}


def single_cfg(net, num_classes=10, head=None):
    backbone, neck, channels, head_type, _ = NETS[net]
    return dict(
        type='ImageClassifier',
        backbone=copy.deepcopy(backbone),
        neck=neck,
        head=head or dict(
            type=head_type, num_classes=num_classes, in_channels=channels),
        data_preprocessor=dict(NORMALIZE, type='ClsDataPreprocessor'))


def mixmo_cfg(net, num_members, num_classes=10, **backbone):
    single_backbone, neck, channels, _, _ = NETS[net]
    return dict(
        type='MixMoClassifier',
        num_members=num_members,
        backbone=dict(copy.deepcopy(single_backbone), **backbone),
        neck=neck,
        mixing=dict(type='CutOrLinearMixing'),
        head=dict(
            type='MultiHeadClsHead',
            num_classes=num_classes,
            in_channels=channels),
        data_preprocessor=dict(NORMALIZE, type='MixMoDataPreprocessor'))


def randomize(model):
    """Non-trivial BN statistics, big logits, a non-zero ViT position."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith(('pos_embed', 'cls_token')):
                param.normal_(0, 0.5)
    return randomize_weights(model, linear_std=0.2)


def build_single(net, num_classes=10, head=None):
    return randomize(MODELS.build(single_cfg(net, num_classes, head)))


def build_mixmo(cfg):
    model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def save(state_dict, path):
    torch.save({'state_dict': state_dict, 'meta': {}}, str(path))
    return str(path)


def images(num=4):
    return torch.randint(0, 256, (num, 3, 32, 32), dtype=torch.uint8)


def predict(model, raw):
    """``pred_score`` and ``mode='tensor'`` logits in eval mode."""
    model.eval()
    with torch.no_grad():
        scores = torch.stack(
            [s.pred_score for s in model.test_step(dict(inputs=raw))])
        logits = model(
            model.data_preprocessor(dict(inputs=raw))['inputs'],
            mode='tensor')
    return scores, logits


def features(model, raw):
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(
            model.data_preprocessor(dict(inputs=raw))['inputs'])
    return feats[-1] if isinstance(feats, tuple) else feats


def max_diff(a, b):
    return (a - b).abs().max().item()


def assert_predicts_like(mixmo, single, raw, num_members):
    """Every head, the mean of the heads and ``pred_score`` are the single
    network's."""
    want_scores, want_logits = predict(single, raw)
    got_scores, got_logits = predict(mixmo, raw)
    spread = want_logits.max(1).values - want_logits.min(1).values
    assert spread.min() > 0.5  # a prediction, not a uniform one
    assert got_logits.shape == (raw.size(0), num_members, 10)
    assert max_diff(got_scores, want_scores) <= 1e-5
    assert max_diff(got_logits.mean(1), want_logits) <= 1e-5
    for i in range(num_members):
        assert max_diff(got_logits[:, i], want_logits) <= 1e-5


def assert_encoders_unfold(model, state_dict, layer):
    """The encoders are the pretrained first convolution / M, folding back
    to it bit for bit."""
    convs = model.encoders.convs
    for name in ('weight', 'bias'):
        key = f'backbone.{layer}.{name}'
        if key not in state_dict:
            assert convs[0].bias is None
            continue
        pretrained = state_dict[key]
        params = [getattr(conv, name).detach() for conv in convs]
        assert torch.equal(fold_members(params), pretrained), name
        for param in params[:-1]:
            assert torch.equal(param, pretrained / len(convs)), name
        torch.testing.assert_close(params[-1], pretrained / len(convs))


class _Records(logging.Handler):

    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def log_messages():
    """What ``print_log(..., logger='current')`` logs during the test.

    ``MMLogger`` only calls its own handlers (no propagation to pytest's
    ``caplog``): a handler on the current instance records the messages.
    """
    logger = MMLogger.get_current_instance()
    handler = _Records()
    logger.addHandler(handler)
    yield handler.messages
    logger.removeHandler(handler)


# 1. unfold_mixmo is the exact inverse of fold_mixmo ------------------------


@pytest.mark.parametrize('num_members', [2, 3, 4])
@pytest.mark.parametrize('net', ['wrn', 'resnet', 'vit'])
def test_fold_of_unfold_is_the_single_network(net, num_members):
    layer, head = NETS[net][4], SINGLE_HEAD[NETS[net][3]]
    state = build_single(net).state_dict()
    before = {key: value.clone() for key, value in state.items()}
    cfg = mixmo_cfg(net, num_members)
    weights = unfold_mixmo(cfg, state)

    # exactly the MixMo model's keys and shapes
    mixmo_state = MODELS.build(cfg).state_dict()
    assert {k: v.shape for k, v in weights.items()} == \
        {k: v.shape for k, v in mixmo_state.items()}
    # every head is the single network's, every encoder its conv / M
    fc = weights['head.fc.weight'].view(num_members, 10, -1)
    bias = weights['head.fc.bias'].view(num_members, 10)
    for i in range(num_members):
        assert torch.equal(fc[i], state[f'head.{head}.weight'])
        assert torch.equal(bias[i], state[f'head.{head}.bias'])
    conv = state[f'backbone.{layer}.weight']
    for i in range(num_members - 1):
        assert torch.equal(weights[f'encoders.convs.{i}.weight'],
                           conv / num_members)

    folded_cfg, back = fold_mixmo(cfg, weights)
    expected = dict(state)
    if head != 'fc':  # the folded network has a LinearClsHead
        for name in ('weight', 'bias'):
            expected[f'head.fc.{name}'] = expected.pop(f'head.{head}.{name}')
    assert set(back) == set(expected)
    for key, value in expected.items():
        assert torch.equal(back[key], value), key
    assert all(torch.equal(state[k], v) for k, v in before.items())
    assert set(state) == set(before)  # the input is left untouched
    MODELS.build(folded_cfg).load_state_dict(back, strict=True)


def magnitudes(dtype, num=4096):
    """Random signed values of every binary exponent of ``dtype``, from the
    smallest subnormal to the largest finite, plus the extremes and 0."""
    info = torch.finfo(dtype)
    subnormal = info.tiny * info.eps
    exponent = torch.empty(num, dtype=torch.float64).uniform_(
        math.log2(subnormal), math.log2(info.max) - 1)
    mantissa = 1 + torch.rand(num, dtype=torch.float64)
    sign = torch.randint(0, 2, (num, ), dtype=torch.float64) * 2 - 1
    values = sign * mantissa * torch.pow(2.0, exponent)
    extremes = torch.tensor([
        0., -0., info.max, -info.max, info.tiny, -info.tiny, subnormal,
        -subnormal, 3 * subnormal, 1., -1., 1 / 3
    ], dtype=torch.float64)
    values = torch.cat([values, extremes]).to(dtype)
    assert torch.isfinite(values).all()
    return values


@pytest.mark.parametrize('dtype', [
    torch.float32, torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize('num_members', [2, 3, 4, 5, 7])
def test_unfold_members_folds_back_bit_for_bit(num_members, dtype):
    param = magnitudes(dtype)
    before = param.clone()
    members = unfold_members(param, num_members)
    assert len(members) == num_members
    assert all(m.dtype == dtype and m.shape == param.shape for m in members)
    assert torch.equal(fold_members(members), param)
    assert torch.equal(param, before)
    for member in members[:-1]:
        assert torch.equal(member, param / num_members)
    # the last one takes only the rounding
    info = torch.finfo(dtype)
    error = (members[-1].double() - param.double() / num_members).abs()
    bound = num_members * info.eps * param.double().abs() + \
        num_members * info.tiny * info.eps
    assert (error <= bound).all()
    # the members are their own tensors
    members[0].add_(1)
    assert torch.equal(param, before)
    if num_members > 2:
        assert not torch.equal(members[0], members[1])


def test_fold_members_of_conv_shaped_tensors_and_no_bias():
    weight = torch.randn(16, 3, 3, 3) * 1e3
    for num_members in (2, 3, 4):
        members = unfold_members(weight, num_members)
        assert torch.equal(fold_members(members), weight)
        assert max_diff(members[-1], weight / num_members) > 0 or \
            num_members in (2, 4)  # /2, /4 are exact: no rounding at all
    assert fold_members([None, None, None]) is None


# 2. step-0 equality through every loading path -----------------------------


@pytest.mark.parametrize('net,num_members', [('wrn', 2), ('wrn', 3),
                                             ('resnet', 2), ('resnet', 3),
                                             ('vit', 2), ('vit', 3)])
def test_backbone_init_cfg_pretrained(net, num_members, tmp_path,
                                      log_messages):
    layer = NETS[net][4]
    single = build_single(net)
    state = single.state_dict()
    pretrained = dict(
        type='Pretrained', checkpoint=save(state, tmp_path / 'single.pth'),
        prefix='backbone.')
    # WRN keeps its layer rules (a TruncKaiming rule the encoders inherit:
    # they must not be re-drawn after loading); mmpretrain's ResNet and ViT
    # re-initialise layers after a list init_cfg, so they get the dict.
    init_cfg = [*copy.deepcopy(AUTHORS_INIT_CFG), pretrained] \
        if net == 'wrn' else pretrained
    cfg = mixmo_cfg(net, num_members, init_cfg=init_cfg)
    model = MODELS.build(cfg)
    if net == 'wrn':
        assert model.encoders.init_cfg[0]['layer'] == 'Conv2d'
    raw = images()
    fresh = features(model, raw)
    model.init_weights()

    assert_encoders_unfold(model, state, layer)
    got, want = features(model, raw), features(single, raw)
    assert max_diff(fresh, want) > 1e-2  # loading changed them
    assert max_diff(got, want) <= 1e-5
    loaded = model.state_dict()
    for key, value in state.items():
        if key.startswith('backbone.') and layer not in key:
            assert torch.equal(loaded[key], value), key
    # the heads keep their init: Normal(0, 0.01), bias 0
    assert torch.equal(model.head.fc.bias, torch.zeros_like(
        model.head.fc.bias))
    assert 0.005 < model.head.fc.weight.std().item() < 0.02
    assert any(f'backbone.{layer}: the {num_members} member encoders start '
               'from the pretrained convolution' in m for m in log_messages)


LOAD_CASES = [('wrn', 2), ('wrn', 3), ('resnet', 2), ('resnet', 3),
              ('vit', 2), ('vit', 3)]


@pytest.mark.parametrize('how', ['load_state_dict', 'load_checkpoint'])
@pytest.mark.parametrize('net,num_members', LOAD_CASES)
def test_whole_model_loads_a_single_network(net, num_members, how, tmp_path,
                                            log_messages):
    single = build_single(net)
    state = single.state_dict()
    before = dict(state)
    model = build_mixmo(mixmo_cfg(net, num_members))
    raw = images()
    assert max_diff(predict(model, raw)[0], predict(single, raw)[0]) > 1e-3
    if how == 'load_state_dict':
        model.load_state_dict(state, strict=True)
    else:
        load_checkpoint(
            model, save(state, tmp_path / 'single.pth'), strict=True)
    assert state.keys() == before.keys()  # the caller's dict untouched
    assert_encoders_unfold(model, state, NETS[net][4])
    assert_predicts_like(model, single, raw, num_members)
    assert any(f"the {num_members} heads start from the single network's "
               'head' in m for m in log_messages)


@pytest.mark.parametrize('net,num_members', [('wrn', 2), ('resnet', 3),
                                             ('vit', 3)])
def test_runner_load_from(net, num_members, tmp_path):
    single = build_single(net)
    cfg = Config(
        dict(
            model=mixmo_cfg(net, num_members),
            work_dir=str(tmp_path / 'work'),
            experiment_name=f'unfold_{uuid.uuid4().hex}',
            load_from=save(single.state_dict(), tmp_path / 'single.pth'),
            default_scope='mmpretrain',
            log_level='WARNING'))
    runner = Runner.from_cfg(cfg)
    raw = images()
    assert max_diff(predict(runner.model, raw)[0],
                    predict(single, raw)[0]) > 1e-3
    runner.load_or_resume()
    assert_encoders_unfold(runner.model, single.state_dict(), NETS[net][4])
    assert_predicts_like(runner.model, single, raw, num_members)


@pytest.mark.parametrize('net,num_members', [('wrn', 2), ('wrn', 3),
                                             ('vit', 3)])
def test_folded_weights_start_a_mixmo_model(net, num_members, tmp_path):
    cfg = mixmo_cfg(net, num_members)
    trained = randomize(MODELS.build(cfg))
    folded_cfg, weights = fold_mixmo(cfg, trained.state_dict())
    folded = MODELS.build(folded_cfg).eval()
    folded.load_state_dict(weights, strict=True)
    raw = images()
    scores, logits = predict(folded, raw)
    trained_scores, heads = predict(trained, raw)
    assert (heads[:, 0] - heads[:, 1]).abs().max() > 0.5  # heads differ
    for how in ('load_state_dict', 'load_checkpoint'):
        model = build_mixmo(cfg)
        if how == 'load_state_dict':
            model.load_state_dict(weights, strict=True)
        else:
            load_checkpoint(
                model, save(weights, tmp_path / 'folded.pth'), strict=True)
        got_scores, got_logits = predict(model, raw)
        assert max_diff(got_scores, scores) <= 1e-5
        assert max_diff(got_scores, trained_scores) <= 1e-5
        assert max_diff(got_logits.mean(1), heads.mean(1)) <= 1e-5
        for i in range(num_members):  # every head is the folded head
            assert max_diff(got_logits[:, i], logits) <= 1e-5
    # and a MixMo checkpoint still loads as it is
    model = build_mixmo(cfg)
    model.load_state_dict(trained.state_dict(), strict=True)
    for key, value in trained.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


# 3. heads that do not fit keep their initialisation ------------------------


@pytest.mark.parametrize('net,num_classes,head,found', [
    ('wrn', 20, None, 'fc.weight [20, 64], fc.bias [20]'),
    ('vit', 20, None, 'layers.head.weight [20, 32]'),
    ('wrn', 10,
     dict(type='StackedLinearClsHead', num_classes=10, in_channels=64,
          mid_channels=[16]), 'layers.0.fc.weight [16, 64]'),
    ('vit', 10,
     dict(type='VisionTransformerClsHead', num_classes=10, in_channels=32,
          hidden_dim=16), 'layers.pre_logits.weight [16, 32]'),
])
def test_heads_that_do_not_fit_keep_their_init(net, num_classes, head, found,
                                               tmp_path, log_messages):
    single = build_single(net, num_classes, head)
    state = single.state_dict()
    model = build_mixmo(mixmo_cfg(net, 3))
    init = {k: v.clone() for k, v in model.head.state_dict().items()}
    load_checkpoint(model, save(state, tmp_path / 'single.pth'))

    for key, value in model.head.state_dict().items():
        assert torch.equal(value, init[key]), key
    assert_encoders_unfold(model, state, NETS[net][4])
    loaded = model.state_dict()
    for key, value in state.items():
        if not key.startswith('head.') and NETS[net][4] not in key:
            assert torch.equal(loaded[key], value), key
    raw = images()
    assert max_diff(features(model, raw), features(single, raw)) <= 1e-5
    said = [m for m in log_messages if 'heads keep their initialisation' in m]
    assert len(said) == 1 and found in said[0], log_messages
    assert '[10, 64]' in said[0] or '[10, 32]' in said[0]
    assert not any('heads start from' in m for m in log_messages)


# 4. a backbone init_cfg without a usable first convolution -----------------


@pytest.mark.parametrize('net', ['wrn', 'vit'])
def test_mixmo_checkpoint_as_backbone_pretrained_raises(net, tmp_path):
    layer = NETS[net][4]
    mixmo = build_mixmo(mixmo_cfg(net, 2))
    path = save(mixmo.state_dict(), tmp_path / 'mixmo.pth')
    model = MODELS.build(
        mixmo_cfg(
            net, 2,
            init_cfg=dict(type='Pretrained', checkpoint=path,
                          prefix='backbone.')))
    with pytest.raises(ValueError,
                       match=rf"the weights loaded into the backbone have no "
                       rf"'{layer}\.weight'.*model\.backbone\.init_cfg.*"
                       r'load_from'):
        model.init_weights()


def test_first_conv_of_another_shape_raises(tmp_path):
    single = MODELS.build(
        single_cfg('resnet')
        | dict(backbone=dict(RESNET, stem_channels=16, base_channels=16),
               head=dict(type='LinearClsHead', num_classes=10,
                         in_channels=128)))
    path = save(single.state_dict(), tmp_path / 'wide.pth')
    model = MODELS.build(
        mixmo_cfg(
            'resnet', 3,
            init_cfg=dict(type='Pretrained', checkpoint=path,
                          prefix='backbone.')))
    with pytest.raises(ValueError,
                       match=r"the weights loaded into the backbone: "
                       r"'conv1\.weight' has shape \[16, 3, 7, 7\], the "
                       r'member encoders \[8, 3, 7, 7\] '
                       r'\(model\.backbone\.init_cfg\)'):
        model.init_weights()


# 5. the project's strict loader --------------------------------------------


@pytest.mark.parametrize('net,num_members', [('wrn', 3), ('vit', 2)])
def test_strict_checked_loading(net, num_members, log_messages):
    # the strict paths (tools/test.py, predict, export, resume) refuse a
    # single network: unfolded, it is a MixMo model of M equal members
    single = build_single(net)
    model = build_mixmo(mixmo_cfg(net, num_members))
    with pytest.raises(
            CheckpointMismatchError,
            match=r"^single network: the weights are a single network's "
            rf'\(backbone\.{re.escape(NETS[net][4])}\.weight, no member '
            r'encoders\)'):
        load_state_dict_checked(model, single.state_dict(), 'single network')
    # asked for (--partial-load): the MixMo model it starts
    load_state_dict_checked(
        model, single.state_dict(), 'single network', partial=True)
    assert_predicts_like(model, single, images(), num_members)

    # 20 classes: the two head weights are missing from the unfolded dict
    other = build_single(net, num_classes=20)
    model = build_mixmo(mixmo_cfg(net, num_members))
    load_state_dict_checked(model, other.state_dict(), 'other', partial=True)
    assert_encoders_unfold(model, other.state_dict(), NETS[net][4])
    assert any('other does not fit: 2 missing keys (head.fc.weight; '
               'head.fc.bias)' in m for m in log_messages)


# 6. ResNet's frozen stem ---------------------------------------------------


def test_resnet_frozen_stem_freezes_every_member_encoder():
    """mmpretrain freezes conv1 in ``ResNet.__init__``; the M encoders are
    that conv and its deep copies, so all are frozen, and stay so after
    ``train()`` (``_freeze_stages`` now sees the weightless slot)."""
    model = MODELS.build(mixmo_cfg('resnet', 3, frozen_stages=0))

    def trainable(module):
        return [p.requires_grad for p in module.parameters()]

    assert trainable(model.encoders) == [False] * 3
    model.train()
    assert trainable(model.encoders) == [False] * 3
    assert trainable(model.backbone.norm1) == [False, False]
    assert not model.backbone.norm1.training
    assert all(trainable(model.backbone.layer1))
    free = MODELS.build(mixmo_cfg('resnet', 3))
    assert trainable(free.encoders) == [True] * 3


def test_heads_of_m_times_k_classes_are_not_split(log_messages):
    # (M * K, C): fold_mixmo(keep_heads=True)'s M heads, or a single network
    # of M * K classes, which must not become M heads of K classes each
    cfg = mixmo_cfg('wrn', 2)
    trained = randomize(MODELS.build(cfg))
    _, weights = fold_mixmo(cfg, trained.state_dict(), keep_heads=True)
    wide = build_single('wrn', num_classes=20)
    for state in (weights, wide.state_dict()):
        model = build_mixmo(cfg)
        init = model.head.fc.weight.detach().clone()
        model.load_state_dict(state, strict=False)
        assert torch.equal(model.head.fc.weight, init)
        assert torch.equal(
            fold_members(list(model.encoders.convs.parameters())),
            state['backbone.conv1.weight'])
    assert sum('the 2 heads keep their initialisation' in m
               for m in log_messages) == 2


class _BuiltWithWeights(BaseModule):
    """A backbone that loads its weights when built (as timm's
    ``pretrained=True`` through ``TIMMBackbone``)."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.body = nn.Conv2d(8, 16, 3)
        with torch.no_grad():
            self.stem.weight.normal_(0, 0.3)
            self.stem.bias.normal_(0, 0.3)
        self._is_init = True

    def forward(self, x):
        return (self.body(self.stem(x)), )


def test_backbone_built_with_weights_starts_every_encoder(log_messages):
    MODELS.register_module('_BuiltWithWeights', module=_BuiltWithWeights,
                           force=True)
    torch.manual_seed(0)
    single = _BuiltWithWeights()
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='MixMoClassifier',
            num_members=3,
            backbone=dict(type='_BuiltWithWeights'),
            mixing=dict(type='CutOrLinearMixing'),
            head=dict(
                type='MultiHeadClsHead', num_classes=10, in_channels=16)))
    model.init_weights()  # the encoders are not re-drawn
    convs = model.encoders.convs
    for name in ('weight', 'bias'):
        members = [getattr(conv, name) for conv in convs]
        assert torch.equal(fold_members(members), getattr(single.stem, name))
        torch.testing.assert_close(members[1], getattr(single.stem, name) / 3)
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        assert torch.equal(
            model.extract_feat(x, stage='backbone')[0],
            single(x)[0])
    assert any('the 3 member encoders start from the pretrained' in m
               for m in log_messages)


def test_strict_loading_refuses_a_single_network_as_ensemble_member():
    single = build_single('wrn')
    mixmo = build_mixmo(mixmo_cfg('wrn', 2))
    ensemble = MODELS.build(
        dict(
            type='EnsembleClassifier',
            member=mixmo_cfg('wrn', 2),
            num_members=2))
    state = {f'members.0.{k}': v for k, v in mixmo.state_dict().items()}
    state.update(
        {f'members.1.{k}': v
         for k, v in single.state_dict().items()})
    with pytest.raises(
            CheckpointMismatchError,
            match=r"the weights are a single network's "
            r'\(members\.1\.backbone\.conv1\.weight, no member encoders\)'):
        load_state_dict_checked(ensemble, state, 'merged')
