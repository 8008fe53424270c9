"""The ImageNet-1k configs: ResNet-50, MIMO / Linear-MixMo / Cut-MixMo.

Shows, on the CPU, that the configs are uncertainty-baselines' ImageNet MIMO
recipe for 8 GPUs x 64 slots (M = 2, b = 2, input repetition 0.6): the
parameter count of MixMo (27,615,440: ResNet-50 + a second stem convolution
and a second head), the schedule and its L2 (norms excluded), the measured
input-repetition share, a train step that decodes each image once, and a
2-node x 1-process training run through ``tools/dist_train.sh``.
"""
import math
import os.path as osp
import subprocess
from collections import Counter

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmmixmo.models.utils import EncoderSlot
from tests.conftest import REPO_ROOT
from tests.test_configs.test_all_configs import (TINY_BACKBONES,
                                                 cpu_optim_wrapper, load,
                                                 plain, shrink)
from tests.test_tools.test_e2e import (TIMEOUT, TOOLS, _env, _free_port,
                                       _load, _run)
from tests.utils.decodes import count_decodes
from tests.utils.fake_imagenet import make_fake_imagenet

MIXMO = {
    method: osp.join(REPO_ROOT, 'configs', 'mixmo',
                     f'{method}_resnet50_8xb64-b2_in1k.py')
    for method in ('mimo', 'linear-mixmo', 'cut-mixmo')
}
VANILLA = osp.join(REPO_ROOT, 'configs', 'baselines',
                   'vanilla_resnet50_8xb64_in1k.py')
GPUS = 8
# mmpretrain's ResNet-50: its stem convolution 64 x 3 x 7 x 7 and its head
# 2048 x 1000 + 1000
RESNET50 = 25_557_032
STEM = 64 * 3 * 7 * 7
HEAD = 2048 * 1000 + 1000
NUM_TRAIN, NUM_VAL = 16, 8


@pytest.fixture(scope='module')
def imagenet(tmp_path_factory) -> dict:
    """A fake ImageNet: its root and its samples per split."""
    root = str(tmp_path_factory.mktemp('imagenet'))
    samples = make_fake_imagenet(root, num_train=NUM_TRAIN, num_val=NUM_VAL)
    return dict(root=root, **samples)


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')  # as the Runner does


def tiny_resnet(model: dict) -> dict:
    """``model`` with test_all_configs' tiny ResNet (pooled width 64)."""
    overrides, channels = TINY_BACKBONES['ResNet']
    model.backbone.update(overrides)
    model.head.in_channels = channels
    return model


def num_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_configs_read_the_imagenet_layout(imagenet):
    """``split='train'/'val'`` reads ``meta/{split}.txt``: the paths and
    labels of the files, mmpretrain's 1000 class names."""
    cfg = load(MIXMO['mimo'])
    for split in ('train', 'val'):
        dataset = DATASETS.build(
            dict(cfg[f'{split}_dataloader'].dataset,
                 data_root=imagenet['root']))
        assert len(dataset.metainfo['classes']) == 1000
        samples = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert [(osp.relpath(s['img_path'], osp.join(imagenet['root'], split)),
                 s['gt_label']) for s in samples] == imagenet[split]
        assert {s['gt_label'] for s in samples} == {0, 1, 500, 999}
    # the test pipeline: short side 40 -> 256, then the 224 x 224 center
    assert dataset[0]['inputs'].shape == (3, 224, 224)


@pytest.mark.parametrize('method', sorted(MIXMO))
def test_evaluator_gathers_hits_not_scores(method):
    """mmpretrain's Accuracy as BatchAccuracy (its keys and values), then
    the uncertainty metrics."""
    cfg = load(MIXMO[method])
    assert cfg.val_evaluator == cfg.test_evaluator
    assert [dict(m) for m in cfg.val_evaluator] == [
        dict(type='BatchAccuracy', topk=(1, 5)),
        dict(type='CalibrationMetric', num_bins=15),
        dict(type='EnsembleDiversityMetric'),
        dict(type='SelectivePredictionMetric')
    ]


@pytest.mark.parametrize('method', sorted(MIXMO))
def test_mixmo_adds_a_stem_and_a_head_to_resnet50(method):
    vanilla = MODELS.build(load(VANILLA).model)
    assert num_params(vanilla) == RESNET50
    assert num_params(vanilla.backbone.conv1) == STEM
    assert num_params(vanilla.head) == HEAD
    model = MODELS.build(load(MIXMO[method]).model)
    assert num_params(model) == 27_615_440 == RESNET50 + STEM + HEAD
    # the shared core: ResNet-50 without its stem convolution
    assert isinstance(model.backbone.conv1, EncoderSlot)
    assert num_params(model.backbone) == num_params(vanilla.backbone) - STEM
    assert [conv.weight.shape for conv in model.encoders.convs] == [
        (64, 3, 7, 7)
    ] * 2
    assert num_params(model.encoders) == 2 * STEM
    assert model.head.fc.weight.shape == (2 * 1000, 2048)
    assert num_params(model.head) == 2 * HEAD
    assert num_params(model.mixing) == num_params(model.neck) == 0
    # Keras also counts the BN running statistics: uncertainty-baselines'
    # 27.7M for MIMO
    stats = sum(buffer.numel() for name, buffer in model.named_buffers()
                if name.endswith(('running_mean', 'running_var')))
    assert stats == 53_120
    assert num_params(model) + stats == 27_668_560


def test_mixmo_configs_differ_only_in_mixing_and_loss():
    cfgs = {method: load(path) for method, path in MIXMO.items()}
    mixing = {
        method: (plain(cfg.model.mixing), cfg.model.head.r,
                 plain(cfg.get('custom_hooks')))
        for method, cfg in cfgs.items()
    }
    assert mixing == {
        'mimo': (dict(type='LinearMixing', alpha=None), 1.0, None),
        'linear-mixmo': (dict(type='LinearMixing', alpha=2.0), 3.0, None),
        'cut-mixmo': (dict(type='CutOrLinearMixing', alpha=2.0, prob=0.5),
                      3.0, [dict(type='MixingProbHook',
                                 decay_fraction=1 / 12)]),
    }
    rest = []
    for cfg in cfgs.values():
        rest.append(plain(cfg.to_dict()))
        del rest[-1]['model']['mixing'], rest[-1]['model']['head']['r']
        rest[-1].pop('custom_hooks', None)
    assert rest[0] == rest[1] == rest[2]
    cfg = cfgs['mimo']
    assert cfg.model.num_members == 2
    assert 'encoder_layer' not in cfg.model  # found: ResNet's conv1
    assert cfg.model.data_preprocessor.input_repetition_prob == 0.6
    loader = cfg.train_dataloader
    assert plain(loader.dataset.pipeline) == [
        dict(type='LoadImageFromFile'),
        dict(type='MemberViews', num_repeats=2, num_members=2, transforms=[
            dict(type='RandomResizedCrop', scale=224),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ]),
        dict(type='PackInputs'),
    ]
    # 64 slots per GPU: 32 images x b = 2
    assert loader.batch_size * 2 == 64


@pytest.mark.parametrize('path', [*MIXMO.values(), VANILLA],
                         ids=lambda p: osp.basename(p)[:-3])
def test_schedule_is_mimo_on_8_gpus(path):
    cfg = load(path)
    batch_size = cfg.train_dataloader.batch_size
    assert batch_size == (64 if path == VANILLA else 32)
    optimizer = cfg.optim_wrapper.optimizer
    # 0.1 per 256 distinct images of the 8 GPUs' step
    assert optimizer.lr * 256 / (GPUS * batch_size) == pytest.approx(0.1)
    assert cfg.auto_scale_lr.base_batch_size == GPUS * batch_size
    assert (optimizer.type, optimizer.momentum, optimizer.nesterov,
            optimizer.weight_decay) == ('SGD', 0.9, True, 2e-4)
    assert (cfg.optim_wrapper.type, cfg.optim_wrapper.dtype) == (
        'AmpOptimWrapper', 'bfloat16')
    assert cfg.optim_wrapper.paramwise_cfg == dict(norm_decay_mult=0.0)
    assert cfg.train_cfg.max_epochs == 150
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.by_epoch, warmup.begin,
            warmup.end, warmup.convert_to_iter_based) == ('LinearLR', 1e-3,
                                                          True, 0, 5, True)
    assert (steps.type, steps.by_epoch, steps.milestones, steps.gamma) == (
        'MultiStepLR', True, [50, 100, 133], 0.1)
    for split in ('val', 'test'):
        assert plain(cfg[f'{split}_dataloader'].dataset.pipeline) == [
            dict(type='LoadImageFromFile'),
            dict(type='ResizeEdge', scale=256, edge='short'),
            dict(type='CenterCrop', crop_size=224),
            dict(type='PackInputs'),
        ]


def _cpu_optim_wrapper(cfg: Config, **optimizer) -> dict:
    """``cfg.optim_wrapper`` as ``OptimWrapper``: AmpOptimWrapper asserts a
    GPU in mmengine."""
    wrapper = plain(cpu_optim_wrapper(cfg.optim_wrapper.to_dict()))
    assert wrapper['type'] == 'OptimWrapper' and 'dtype' not in wrapper
    wrapper['optimizer'].update(optimizer)
    return wrapper


def test_l2_spares_the_norms():
    """weight_decay 2e-4 = the gradient of uncertainty-baselines' L2
    ``1e-4 * sum(w^2)``, on convolutions and the head, not on BN."""
    cfg = load(MIXMO['mimo'])
    model = MODELS.build(tiny_resnet(cfg.model)).double()
    optimizer = build_optim_wrapper(model, _cpu_optim_wrapper(cfg)).optimizer
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.defaults['nesterov']
    assert optimizer.defaults['momentum'] == 0.9
    decay = {
        id(p): group['weight_decay']
        for group in optimizer.param_groups for p in group['params']
    }
    kinds = Counter()
    for module in model.modules():
        for name, param in module.named_parameters(recurse=False):
            if isinstance(module, _BatchNorm):
                assert decay.pop(id(param)) == 0, (module, name)
                kinds[f'bn.{name}'] += 1
            else:
                assert isinstance(module, (nn.Conv2d, nn.Linear))
                assert decay.pop(id(param)) == 2e-4, (module, name)
                kinds[f'{type(module).__name__}.{name}'] += 1
    assert decay == {}  # every parameter was optimised and seen
    # ResNet-18: 1 + 16 + 3 (downsample) BN layers, 2 stem + 16 + 3 convs
    assert kinds == {
        'bn.weight': 20,
        'bn.bias': 20,
        'Conv2d.weight': 21,
        'Linear.weight': 1,
        'Linear.bias': 1
    }

    # one SGD step, lr 10, no momentum, on a zero loss: only the decay
    lr = 10.0
    wrapper = build_optim_wrapper(
        model, _cpu_optim_wrapper(cfg, lr=lr, momentum=0.0, nesterov=False))
    watched = {
        'conv': model.backbone.layer1[0].conv1.weight,
        'encoder': model.encoders.convs[1].weight,
        'head weight': model.head.fc.weight,
        'head bias': model.head.fc.bias,
        'bn': model.backbone.layer1[0].bn1.weight,
    }
    before = {key: p.detach().clone() for key, p in watched.items()}
    wrapper.update_params(sum((p * 0).sum() for p in model.parameters()))
    for key in ('conv', 'encoder', 'head weight', 'head bias'):
        w = before[key].clone().requires_grad_()
        (l2_grad, ) = torch.autograd.grad(1e-4 * (w**2).sum(), w)
        change = watched[key].detach() - before[key]
        assert change.abs().min() > 0, key
        torch.testing.assert_close(
            change, -lr * 2e-4 * before[key], rtol=1e-9, atol=0)
        torch.testing.assert_close(change, -lr * l2_grad, rtol=1e-9, atol=0)
    assert torch.equal(watched['bn'].detach(), before['bn'])


def _views(num_images: int, size: int = 2) -> dict:
    """A collated MemberViews batch (M = 2, b = 2) of constant views: view
    r of member i of image k has value 64 i + 32 r + k; image k has label
    100 + k and ``sample_idx`` 10 + k."""
    image = torch.arange(num_images).view(-1, 1, 1, 1)
    inputs = [[(64 * i + 32 * r + image).expand(-1, 3, size, size).to(
        torch.uint8) for r in range(2)] for i in range(2)]
    samples = [
        DataSample(metainfo=dict(sample_idx=10 + k)).set_gt_label(100 + k)
        for k in range(num_images)
    ]
    return dict(inputs=inputs, data_samples=samples)


def test_mimo_input_repetition_share():
    """Both members see the same image in a share 0.6 of the slots plus
    chance meetings: member 1 shuffles member 0's inputs of the K free
    slots, so a free slot meets its own input (1 / K) or the image's other
    view if that is free too ((K - 1) / (B - 1) / K), K ~ Bin(B, 0.4)."""
    cfg = load(MIXMO['mimo'])
    preprocessor = MODELS.build(cfg.model).data_preprocessor
    mean = preprocessor.mean.view(3)
    std = preprocessor.std.view(3)
    batch = _views(32)
    num_batches, slots = 1000, 64
    same = 0
    for _ in range(num_batches):
        out = preprocessor(batch, training=True)
        inputs, samples = out['inputs'], out['data_samples']
        assert inputs.shape == (slots, 2, 3, 2, 2)
        labels = torch.stack([s.member_gt_label for s in samples])
        # undo the normalisation (channels are BGR -> RGB, all equal here)
        codes = (inputs[..., 0, 0] * std + mean).round().long()
        assert torch.equal(codes, codes[..., :1].expand_as(codes))
        codes = codes[..., 0]  # (B, M)
        assert torch.equal(codes // 64, torch.arange(2).expand(slots, 2))
        assert torch.equal(labels, 100 + codes % 32)
        assert [s.sample_idx for s in samples] == (10 + codes[:, 0] %
                                                   32).tolist()
        same += int((labels[:, 0] == labels[:, 1]).sum())
    num = num_batches * slots
    chance = sum(
        math.comb(slots, k) * 0.4**k * 0.6**(slots - k) *
        (1 + (k - 1) / (slots - 1)) for k in range(1, slots + 1)) / slots
    share, expected = same / num, 0.6 + chance
    bound = 4 * (expected * (1 - expected) / num)**0.5
    print(f'same image in {share:.4f} of {num} slots, expected '
          f'{expected:.4f} +- {bound:.4f} (4 sigma)')
    assert abs(share - expected) < bound
    assert abs(share - 0.6) > bound  # the chance meetings are measurable


def test_cut_mixmo_step_decodes_each_image_once(imagenet, monkeypatch):
    """The Cut-MixMo config's train dataloader (as tools/train.py builds
    it) and preprocessor: 4 images a step, 2 x 2 views of each."""
    num_images = 4
    decodes = count_decodes(monkeypatch, [
        osp.join(imagenet['root'], 'train', name)
        for name, _ in imagenet['train']
    ])
    cfg = load(MIXMO['cut-mixmo'])
    loader = Runner.build_dataloader(
        dict(
            cfg.train_dataloader,
            dataset=dict(
                cfg.train_dataloader.dataset,
                data_root=imagenet['root'],
                indices=2 * num_images),
            batch_size=num_images,
            num_workers=0,
            persistent_workers=False,
            collate_fn=dict(type='default_collate')),
        seed=0)
    preprocessor = MODELS.build(cfg.model).data_preprocessor
    pairings = []
    pair_members = preprocessor.pair_members

    def recording(batch_size: int) -> torch.Tensor:
        pairings.append(pair_members(batch_size))
        return pairings[-1]

    monkeypatch.setattr(preprocessor, 'pair_members', recording)
    mean, std = preprocessor.mean, preprocessor.std
    steps = []
    for batch in loader:
        paths = [s.img_path for s in batch['data_samples']]
        labels = torch.cat([s.gt_label for s in batch['data_samples']])
        # this step decoded each of its images exactly once
        assert decodes - sum(steps, Counter()) == Counter(paths)
        steps.append(Counter(paths))
        views = batch['inputs']
        assert [len(member) for member in views] == [2, 2]
        for view in (view for member in views for view in member):
            assert view.shape == (num_images, 3, 224, 224)
            assert view.dtype == torch.uint8
        out = preprocessor(batch, training=True)
        inputs, pairing = out['inputs'], pairings[-1]
        assert inputs.shape == (2 * num_images, 2, 3, 224, 224)
        member_labels = torch.stack(
            [s.member_gt_label for s in out['data_samples']])
        # each member sees each of its 2 x 4 views once: each image twice
        for i in range(2):
            assert sorted(pairing[i].tolist()) == list(range(2 * num_images))
            image = pairing[i] % num_images
            assert Counter(image.tolist()) == {k: 2 for k in range(num_images)}
            # every member input is the member's own view, normalised
            expected = torch.stack([
                views[i][idx // num_images][idx % num_images]
                for idx in pairing[i].tolist()
            ])[:, [2, 1, 0]].float()
            torch.testing.assert_close(inputs[:, i],
                                       (expected - mean) / std)
            assert torch.equal(member_labels[:, i], labels[image])
    assert [sum(step.values()) for step in steps] == [num_images] * 2
    assert sorted(decodes) == sorted(
        osp.join(imagenet['root'], 'train', name)
        for name, _ in imagenet['train'][:2 * num_images])
    assert set(decodes.values()) == {1}


def test_mimo_trains_on_two_nodes(imagenet, tmp_path):
    """The README's multi-node command, ``NNODES=2 NODE_RANK=0|1
    MASTER_ADDR PORT tools/dist_train.sh CFG 1``, as 2 "nodes" of 1 process
    on this machine (gloo): each rank trains 2 steps of 4 of its own 8
    images (2 x 4 x 2 slots), then validates."""
    cfg = load(MIXMO['mimo'])
    work_dir = str(tmp_path / 'work_dir')
    shrink(cfg, dict(ImageNet=imagenet['root']), work_dir)
    assert cfg.train_dataloader.batch_size == 4
    cfg.train_dataloader.dataset.indices = NUM_TRAIN  # 8 per rank
    cfg_file = str(tmp_path / 'mimo_tiny.py')
    cfg.dump(cfg_file)
    command = ['bash', osp.join(TOOLS, 'dist_train.sh'), cfg_file, '1']
    nodes = dict(NNODES='2', MASTER_ADDR='127.0.0.1', PORT=_free_port())
    node1 = subprocess.Popen(
        command, cwd=str(tmp_path), env=dict(_env(), NODE_RANK='1', **nodes),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = _run(command, str(tmp_path), NODE_RANK='0', **nodes)
        node1_output = node1.communicate(timeout=TIMEOUT)[0]
    finally:
        node1.kill()
    assert node1.returncode == 0, node1_output[-6000:]
    assert 'Distributed training: True' in output
    assert 'GPU number: 2' in output  # mmengine's name of the world size
    # a rank reading all 16 images would have taken 4 steps
    assert 'Epoch(train) [1][2/2]' in output
    assert 'Epoch(train) [1][3/' not in output
    ckpt = _load(osp.join(work_dir, 'epoch_1.pth'))
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 2
    assert 'loss_head0' in output and 'loss_head1' in output
    assert 'Epoch(val) [1][' in output
    # BatchAccuracy, gathered from both ranks
    assert 'accuracy/top1: ' in output and 'accuracy/top5: ' in output
