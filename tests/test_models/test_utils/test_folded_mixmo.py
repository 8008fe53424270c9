"""fold_mixmo: the MixMo ensemble as one vanilla network.

A WRN-10-1 MixMo (K = 10) with random encoders, perturbed BN statistics and
affine parameters, and heads of non-trivial scale, so that every folded part
matters.
"""
import copy

import pytest
import torch
from mmengine.analysis import FlopAnalyzer
from mmpretrain.registry import MODELS
from torch import nn

import mmmixmo  # noqa: F401
from tests.utils.models import randomize_weights
from mmmixmo.models.utils import FoldedMixMo, fold_mixmo

NUM_CLASSES = 10
# WRN-10-1: conv1 432 + core 76,768 + Linear(64, 10) 650.
VANILLA_PARAMS = 77_850
# Per extra member: one 3x3 conv 3 -> 16 (432) and one Linear(64, 10) (650).
EXTRA_PER_MEMBER = 432 + 650
MEAN = [125.307, 122.961, 113.8575]
STD = [51.5865, 50.847, 51.255]


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on the shared 2-core machine more threads only
    oversubscribe."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def backbone_cfg():
    return dict(type='WideResNet', depth=10, widen_factor=1)


def build_mixmo(num_members, seed=0, **preprocessor):
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(
            type='MixMoClassifier',
            num_members=num_members,
            backbone=backbone_cfg(),
            mixing=dict(type='CutOrLinearMixing'),
            head=dict(
                type='MultiHeadClsHead',
                num_classes=NUM_CLASSES,
                in_channels=64),
            data_preprocessor=dict(
                type='MixMoDataPreprocessor', **preprocessor)))
    model.init_weights()
    # logits of std ~2.5: softmax neither uniform nor saturated
    return randomize_weights(model, linear_std=0.1)


def build_vanilla():
    return MODELS.build(
        dict(
            type='ImageClassifier',
            backbone=backbone_cfg(),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=NUM_CLASSES,
                in_channels=64),
            data_preprocessor=dict(type='ClsDataPreprocessor'))).eval()


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def predict(model, inputs):
    with torch.no_grad():
        samples = model(inputs, mode='predict')
    scores = torch.stack([s.pred_score for s in samples])
    logits = torch.stack([s.head_logits for s in samples])
    return scores, logits


@pytest.mark.parametrize('num_members', [2, 3])
def test_folded_equals_mixmo_predict(num_members):
    model = build_mixmo(num_members)
    inputs = torch.randn(6, 3, 32, 32)
    scores, head_logits = predict(model, inputs)
    # non-degenerate ensemble whose heads disagree
    assert 0.15 < scores.max(1).values.mean() < 0.9
    assert (head_logits[:, 0] - head_logits[:, 1]).abs().max() > 0.5

    folded = fold_mixmo(model)
    assert isinstance(folded, FoldedMixMo) and not folded.training
    with torch.no_grad():
        out = folded(inputs)
        logits = fold_mixmo(model, with_softmax=False)(inputs)
    assert out.shape == (6, NUM_CLASSES)
    assert (out - scores).abs().max() <= 1e-5
    assert (logits - head_logits.mean(1)).abs().max() <= 1e-5
    # a single member's head or encoder would not match
    assert (torch.softmax(head_logits[:, 0], 1) - scores).abs().max() > 1e-3
    broken = fold_mixmo(model)
    broken.backbone.conv1 = copy.deepcopy(model.encoders.convs[0])
    with torch.no_grad():
        assert (broken(inputs) - scores).abs().max() > 1e-3


def test_folded_weights_are_sums_and_means():
    model = build_mixmo(3)
    folded = fold_mixmo(model)
    convs = model.encoders.convs
    torch.testing.assert_close(
        folded.backbone.conv1.weight,
        convs[0].weight + convs[1].weight + convs[2].weight)
    weight = model.head.fc.weight.view(3, NUM_CLASSES, 64)
    bias = model.head.fc.bias.view(3, NUM_CLASSES)
    torch.testing.assert_close(folded.head.fc.weight,
                               (weight[0] + weight[1] + weight[2]) / 3)
    torch.testing.assert_close(folded.head.fc.bias,
                               (bias[0] + bias[1] + bias[2]) / 3)


def test_with_preprocess_takes_raw_images():
    model = build_mixmo(2, mean=MEAN, std=STD, to_rgb=True)
    raw = torch.randint(0, 256, (5, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        samples = model.test_step(dict(inputs=raw))
    scores = torch.stack([s.pred_score for s in samples])

    folded = fold_mixmo(model, with_preprocess=True)
    torch.testing.assert_close(folded.mean.flatten(), torch.tensor(MEAN))
    torch.testing.assert_close(folded.std.flatten(), torch.tensor(STD))
    assert folded.to_rgb
    # not in the state dict, like ClsDataPreprocessor's statistics
    assert 'mean' not in folded.state_dict()
    with torch.no_grad():
        assert (folded(raw) - scores).abs().max() <= 1e-5
        assert (folded(raw.float()) - scores).abs().max() <= 1e-5
        # the channel flip matters
        assert (folded(raw.flip(1)) - scores).abs().max() > 1e-3
        # without preprocessing the input must be normalised
        plain = fold_mixmo(model)(model.data_preprocessor(
            dict(inputs=raw))['inputs'])
    assert (plain - scores).abs().max() <= 1e-5


def test_with_preprocess_without_normalisation_casts_only():
    model = build_mixmo(2)
    raw = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        want = torch.stack(
            [s.pred_score for s in model.test_step(dict(inputs=raw))])
        got = fold_mixmo(model, with_preprocess=True)(raw)
    assert (got - want).abs().max() <= 1e-5


def test_model_is_not_modified():
    model = build_mixmo(2).train()
    state = copy.deepcopy(model.state_dict())
    folded = fold_mixmo(model)
    assert model.training and not folded.training
    assert isinstance(model.backbone.conv1, nn.Identity)
    with torch.no_grad():
        for param in folded.parameters():
            param.add_(1.0)
        for buffer in folded.buffers():
            buffer.add_(1)
    after = model.state_dict()
    assert after.keys() == state.keys()
    assert all(torch.equal(after[key], state[key]) for key in state)


@pytest.mark.parametrize('num_members', [2, 3])
def test_parameters_and_layers_equal_the_vanilla_network(num_members):
    model = build_mixmo(num_members)
    folded = fold_mixmo(model)
    vanilla = build_vanilla()
    assert num_params(vanilla) == VANILLA_PARAMS
    assert num_params(folded) == VANILLA_PARAMS
    assert num_params(model) == \
        VANILLA_PARAMS + (num_members - 1) * EXTRA_PER_MEMBER

    def layers(module):
        return [(name, type(m).__name__,
                 [tuple(p.shape) for p in m.parameters(recurse=False)])
                for name, m in module.named_modules()]

    for part in ('backbone', 'neck', 'head'):
        assert layers(getattr(folded, part)) == \
            layers(getattr(vanilla, part))
    assert type(folded.backbone.conv1) is nn.Conv2d
    assert folded.backbone.conv1.weight.shape == (16, 3, 3, 3)
    fc = folded.head.fc
    assert type(fc) is nn.Linear
    assert (fc.in_features, fc.out_features) == (64, NUM_CLASSES)

    # The folded weights are a vanilla network's weights.
    vanilla.load_state_dict(folded.state_dict(), strict=True)
    inputs = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        want = torch.softmax(vanilla(inputs, mode='tensor'), dim=1)
        assert (folded(inputs) - want).abs().max() <= 1e-6


class _TensorMode(nn.Module):
    """A classifier's ``mode='tensor'`` forward as a plain module."""

    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, inputs):
        return self.classifier(inputs, mode='tensor')


def count_flops(module, inputs):
    analyzer = FlopAnalyzer(module, (inputs, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer.total()


@pytest.mark.parametrize('num_members', [2, 3])
def test_forward_flops_equal_the_vanilla_network(num_members):
    """One forward pass at test time: the folded model costs exactly what the
    vanilla network costs (counted, not timed: timings are for
    ``tools/analysis_tools/benchmark.py``; the exported file is timed
    against the vanilla network in tests/test_tools/test_export_mixmo.py).
    The unfolded model already sums its encoders' weights at test time, so
    it only pays for M-1 more heads."""
    model = build_mixmo(num_members).eval()
    inputs = torch.randn(2, 3, 32, 32)
    folded = count_flops(fold_mixmo(model), inputs)
    vanilla = count_flops(_TensorMode(build_vanilla()), inputs)
    unfolded = count_flops(_TensorMode(model), inputs)
    assert folded == vanilla
    # FlopAnalyzer counts multiply-adds: Linear(64, 10) on 2 images.
    assert unfolded - vanilla == (num_members - 1) * 2 * 64 * NUM_CLASSES


def test_rejects_models_it_cannot_fold():
    with pytest.raises(TypeError, match="model.type='MixMoClassifier'"):
        fold_mixmo(build_vanilla())
    model = build_mixmo(2, mean=MEAN, std=STD, pad_size_divisor=8)
    fold_mixmo(model)  # padding is only part of the preprocessing
    with pytest.raises(ValueError, match='pad_size_divisor=8'):
        fold_mixmo(model, with_preprocess=True)
    with pytest.raises(ValueError, match='mean and std'):
        FoldedMixMo(nn.Identity(), None, nn.Identity(), mean=[0.0])
