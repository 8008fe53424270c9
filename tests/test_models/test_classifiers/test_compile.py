"""torch.compile of a training step, as mmengine's ``compile=True`` does.

The network part (``forward(mode='loss')``: encoders, mixing, core, heads,
loss; its backward is the graph's) is one graph without breaks and nothing
recompiles after warm-up; ``backend='aot_eager'`` traces forward and
backward as inductor would, without the C++ compiler.
"""
import copy

import pytest
import torch
import torch._dynamo
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch._dynamo.testing import CompileCounter
from torch._dynamo.utils import counters

import mmmixmo  # noqa: F401
from tests.test_models.test_classifiers.test_mixmo_classifier import tiny_cfg

NUM_CLASSES, BATCH, SIZE = 10, 4, 8


def vanilla_cfg():
    return dict(
        type='VanillaClassifier',
        backbone=dict(type='WideResNet', depth=10, widen_factor=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                  in_channels=64),
        data_preprocessor=dict(mean=[0.] * 3, std=[1.] * 3))


MODELS_CFG = {
    'cut-mixmo': tiny_cfg(num_classes=NUM_CLASSES),
    'linear-mixmo': tiny_cfg(num_classes=NUM_CLASSES, mixing='LinearMixing'),
    'vanilla': vanilla_cfg(),
}


def make_batch(model, seed, batch_size=BATCH):
    """A training batch as the dataloader gives it: MemberViews' M lists of
    b = 1 views for MixMo, the images for the single network."""
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(NUM_CLASSES, (batch_size, ), generator=gen)
    samples = [
        DataSample(metainfo=dict(sample_idx=i)).set_gt_label(int(y))
        for i, y in enumerate(labels)
    ]

    def images():
        return torch.randint(256, (batch_size, 3, SIZE, SIZE), generator=gen,
                             dtype=torch.uint8)

    if not hasattr(model, 'encoders'):
        return dict(inputs=images(), data_samples=samples)
    members = len(model.encoders.convs)
    return dict(inputs=[[images()] for _ in range(members)],
                data_samples=samples)


@pytest.fixture(autouse=True)
def fresh_dynamo():
    torch._dynamo.reset()
    counters.clear()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize('name', list(MODELS_CFG))
def test_network_part_is_one_graph(name):
    model = MODELS.build(copy.deepcopy(MODELS_CFG[name])).train()
    compiled = CompileCounter()
    run_forward = torch.compile(model._run_forward, backend=compiled)
    # a smaller batch (an epoch's last) compiles again, with dynamic shapes
    for seed, batch_size in enumerate((BATCH, BATCH - 1, BATCH, BATCH - 1)):
        data = model.data_preprocessor(
            make_batch(model, seed, batch_size), True)
        run_forward(data, mode='loss')
    assert counters['graph_break'] == {}
    assert compiled.frame_count == 2


@pytest.mark.parametrize('name', list(MODELS_CFG))
def test_train_step_compiled_as_mmengine_does(name):
    model = MODELS.build(copy.deepcopy(MODELS_CFG[name])).train()
    eager = copy.deepcopy(model)
    optim_wrappers = [
        OptimWrapper(torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9))
        for m in (model, eager)
    ]
    # what Runner._maybe_compile does with compile=dict(backend=...)
    step = torch.compile(model.train_step, backend='aot_eager')
    binary = []  # per eager step: did the Cut-MixMo block cut?
    if name == 'cut-mixmo':
        eager.mixing.register_forward_hook(lambda m, args, out: binary.append(
            bool(((out[1] == 0) | (out[1] == 1)).any())))

    def train(i):
        batch = make_batch(model, i)
        torch.manual_seed(i)
        losses = step(batch, optim_wrappers[0])
        torch.manual_seed(i)
        expected = eager.train_step(batch, optim_wrappers[1])
        # the same draws, loss and update as the eager step
        torch.testing.assert_close(losses, expected)

    for i in range(2):  # warm-up: SGD's first step creates its momenta
        train(i)
    warm = counters['stats']['unique_graphs']
    with torch._dynamo.config.patch(error_on_recompile=True):
        for i in range(2, 6):
            if i == 4 and name == 'cut-mixmo':
                for m in (model, eager):  # as MixingProbHook, per epoch
                    m.mixing.prob_factor = 0.5
            train(i)
    assert counters['stats']['unique_graphs'] == warm
    if name == 'cut-mixmo':  # both branches of the per-batch choice ran
        assert set(binary) == {False, True}
    for key, param in eager.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], param, msg=key)
    # the breaks are outside the network: the eager preprocessor
    # (torch.compiler.disable), backward() and the optimizer
    reasons = ' '.join(counters['graph_break'])
    assert 'item()' not in reasons and 'Data dependent' not in reasons
