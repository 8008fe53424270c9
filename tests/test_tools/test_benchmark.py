"""tools/analysis_tools/benchmark.py on a tiny WRN (figures, not timings)."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.models import ClsDataPreprocessor, ImageClassifier
from mmpretrain.registry import MODELS

from mmmixmo.models.data_preprocessors import MixMoDataPreprocessor
from tests.conftest import REPO_ROOT
from tests.test_configs.test_all_configs import TINY_BACKBONES
from tests.utils.tools import load_tool

CONFIG = osp.join(REPO_ROOT, 'configs', 'mixmo',
                  'cut-mixmo_wrn28-10_1xb64-b4_cifar100.py')
# WRN-10-1: widths 16, 32, 64; CIFAR-100 heads on 64 features.
TINY = {
    'model.backbone.depth': 10,
    'model.backbone.widen_factor': 1,
    'model.head.in_channels': 64
}
IN1K = osp.join(REPO_ROOT, 'configs', 'mixmo',
                'cut-mixmo_resnet50_8xb64-b2_in1k.py')
# its ResNet shrunk as in the config tests
TINY_RESNET = dict(
    {f'model.backbone.{k}': v for k, v in TINY_BACKBONES['ResNet'][0].items()},
    **{'model.head.in_channels': TINY_BACKBONES['ResNet'][1]})
CPU = ['--device', 'cpu', '--warmup', '0', '--threads', '1']
ARGS = CPU + ['--cfg-options'] + [f'{k}={v}' for k, v in TINY.items()]


@pytest.fixture(scope='module')
def benchmark():
    return load_tool('analysis_tools/benchmark.py')


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_report_tiny_wrn(benchmark, capsys, monkeypatch):
    batches = []  # what the preprocessors receive in training
    for cls in (ClsDataPreprocessor, MixMoDataPreprocessor):
        def recording(self, data, training=False, cls=cls,
                      forward=cls.forward):
            if training and type(self) is cls:
                batches.append((cls, data['inputs']))
            return forward(self, data, training)
        monkeypatch.setattr(cls, 'forward', recording)
    result = benchmark.main([CONFIG, '--batch-size', '4', '--repeats', '3',
                             *ARGS])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == result['hardware']
    assert lines[0].startswith('Hardware: CPU ')
    assert f'torch {torch.__version__}, 1 intra-op threads' in lines[0]
    assert lines[2].startswith(
        'Batch: 4 slots of 3x32x32 uint8 (MixMo: M=2 inputs per slot, b=1, '
        'each member its own random views in training), fp32; 3 interleaved')
    # 3 timed train steps each plus 1 for the memory peak; MixMo's batch is
    # MemberViews' (M lists of b = 1 views), member 0's that of vanilla.
    assert [cls for cls, _ in batches].count(ClsDataPreprocessor) == 4
    assert [cls for cls, _ in batches].count(MixMoDataPreprocessor) == 4
    plain = next(x for cls, x in batches if cls is ClsDataPreprocessor)
    nested = next(x for cls, x in batches if cls is MixMoDataPreprocessor)
    assert plain.shape == (4, 3, 32, 32) and plain.dtype == torch.uint8
    assert [len(member) for member in nested] == [1, 1]
    assert torch.equal(nested[0][0], plain)
    assert nested[1][0].shape == plain.shape
    assert not torch.equal(nested[1][0], plain)
    table = [[c.strip() for c in line.strip('|').split('|')]
             for line in lines if line.startswith('|')]
    assert tuple(table[0]) == benchmark.COLUMNS
    assert set(''.join(table[1])) == {'-'}
    assert [row[:2] for row in table[2:]] == [
        ['train', 'vanilla'], ['train', 'mixmo'], ['inference', 'vanilla'],
        ['inference', 'mixmo']
    ]
    for cells, row in zip(table[2:], result['rows']):
        times = result['times'][row['phase']]
        median = sorted(times[row['model']])[1]
        ratios = sorted(m / v for m, v in zip(times['mixmo'],
                                              times['vanilla']))
        assert row['img_per_s'] == pytest.approx(4 / median, rel=1e-12)
        assert row['ms_per_iter'] == pytest.approx(1e3 * median, rel=1e-12)
        assert row['ratio'] == (ratios[1] if row['model'] == 'mixmo' else 1)
        assert 0 < row['peak_mib'] < 100
        assert cells[2:] == [
            f'{row["img_per_s"]:.2f}', f'{row["ms_per_iter"]:.2f}',
            f'{row["ratio"]:.3f}', f'{row["peak_mib"]:.1f}'
        ]
    for phase in ('train', 'inference'):
        assert [len(t) for t in result['times'][phase].values()] == [3, 3]
    # MixMo adds one 3->16 3x3 encoder (no bias) and a second head.
    params = result['params']
    assert params['mixmo'] - params['vanilla'] == 16 * 3 * 9 + 64 * 100 + 100
    assert (f'Params: MixMo {params["mixmo"]:,}, vanilla (folded) '
            f'{params["vanilla"]:,}') in out


def test_vanilla_is_the_vanilla_network_with_folded_weights(benchmark):
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(TINY)
    init_default_scope('mmpretrain')
    models = benchmark.build_models(cfg, seed=0)
    vanilla_cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'baselines',
                 'vanilla_wrn28-10_1xb64_cifar100.py'))
    vanilla_cfg.merge_from_dict(TINY)
    reference = MODELS.build(vanilla_cfg.model)
    folded = models['vanilla']
    assert type(folded) is ImageClassifier
    assert [(k, p.shape) for k, p in folded.named_parameters()] == \
        [(k, p.shape) for k, p in reference.named_parameters()]
    # the same normalisation, and the MixMo ensemble's predictions
    torch.testing.assert_close(folded.data_preprocessor.mean,
                               models['mixmo'].data_preprocessor.mean)
    raw = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        scores = [
            torch.stack([s.pred_score for s in m.eval().test_step(
                dict(inputs=raw))]) for m in models.values()
        ]
    torch.testing.assert_close(scores[0], scores[1], rtol=0, atol=1e-6)


def test_input_errors(benchmark):
    tiny_imagenet = osp.join(
        REPO_ROOT, 'configs', 'mixmo',
        'cut-mixmo_preact-resnet18-w1_1xb100-b4_tiny-imagenet.py')
    for config, size, slots in ((CONFIG, (32, 32), 64),
                                (IN1K, (224, 224), 64),
                                (tiny_imagenet, (64, 64), 100)):
        assert benchmark.train_img_size(Config.fromfile(config)) == size
        assert benchmark.train_slots(Config.fromfile(config)) == slots
    # wrappers and mmcv's (w, h): tests/test_datasets/test_model_inputs.py
    with pytest.raises(ValueError, match='pass --img-size'):
        benchmark.train_img_size(
            Config(dict(train_dataloader=dict(dataset=dict(pipeline=[])))))
    vanilla = osp.join(REPO_ROOT, 'configs', 'baselines',
                       'vanilla_wrn28-10_1xb64_cifar100.py')
    with pytest.raises(ValueError, match="model.type='VanillaClassifier'"):
        benchmark.main([vanilla, *ARGS])
    with pytest.raises(SystemExit):
        benchmark.parse_args([CONFIG, '--repeats', '0'])


def test_amp_on_cpu_runs_under_bfloat16_autocast(benchmark, capsys,
                                                 monkeypatch):
    calls = []
    forward = ImageClassifier.forward

    def recording_forward(self, *args, **kwargs):
        calls.append((type(self).__name__, kwargs.get('mode'),
                      torch.get_autocast_dtype('cpu')
                      if torch.is_autocast_enabled('cpu') else None))
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(ImageClassifier, 'forward', recording_forward)
    benchmark.main([CONFIG, '--batch-size', '2', '--repeats', '1', '--amp',
                    *ARGS])
    assert 'amp bfloat16' in capsys.readouterr().out
    # Both models' train steps and inferences ran under bfloat16 autocast.
    assert {call[:2] for call in calls} == {
        (name, mode) for name in ('ImageClassifier', 'MixMoClassifier')
        for mode in ('loss', 'predict')
    }
    assert {call[2] for call in calls} == {torch.bfloat16}


@pytest.mark.parametrize('amp', [False, True])
def test_amp_optim_wrapper_on_cpu(benchmark, capsys, monkeypatch, amp):
    # The ImageNet config's AmpOptimWrapper (bfloat16) needs a GPU in
    # mmengine: the CPU trains with an OptimWrapper of the same optimizer and
    # paramwise_cfg, under bfloat16 autocast only with --amp.
    built, calls = [], []
    build, forward = benchmark.build_optim_wrapper, ImageClassifier.forward

    def recording_build(model, cfg):
        built.append((model, copy.deepcopy(cfg), build(model, cfg)))
        return built[-1][2]

    def recording_forward(self, *args, **kwargs):
        calls.append(torch.get_autocast_dtype('cpu')
                     if torch.is_autocast_enabled('cpu') else None)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(benchmark, 'build_optim_wrapper', recording_build)
    monkeypatch.setattr(ImageClassifier, 'forward', recording_forward)
    benchmark.main([
        IN1K, '--batch-size', '2', '--repeats', '1', '--img-size', '32',
        *(['--amp'] if amp else []), *CPU, '--cfg-options',
        *[f'{k}={v}' for k, v in TINY_RESNET.items()]
    ])
    out = capsys.readouterr().out
    assert (('amp bfloat16' if amp else 'fp32') + " (the config's "
            'AmpOptimWrapper as OptimWrapper: CPU);') in out
    assert [type(model).__name__ for model, _, _ in built] == [
        'ImageClassifier', 'MixMoClassifier']
    for model, cfg, wrapper in built:
        assert cfg == dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9, nesterov=True,
                           weight_decay=2e-4),
            paramwise_cfg=dict(norm_decay_mult=0.0))
        assert type(wrapper) is OptimWrapper
        assert type(wrapper.optimizer) is torch.optim.SGD
    # 2 train steps (timed, memory peak) and 2 inferences per model
    assert calls == [torch.bfloat16 if amp else None] * 8


def test_train_optim_cfg(benchmark):
    sgd = dict(type='SGD', lr=0.1)
    amp_cfg = dict(type='AmpOptimWrapper', dtype='bfloat16',
                   loss_scale='dynamic', optimizer=sgd,
                   paramwise_cfg=dict(norm_decay_mult=0.0))
    plain = dict(type='OptimWrapper', optimizer=sgd)
    cpu, cuda = torch.device('cpu'), torch.device('cuda')
    for amp in (False, True):
        assert benchmark.train_optim_cfg(amp_cfg, cpu, amp) == dict(
            type='OptimWrapper', optimizer=sgd,
            paramwise_cfg=dict(norm_decay_mult=0.0))
        assert benchmark.train_optim_cfg(amp_cfg, cuda, amp) is amp_cfg
        assert benchmark.train_optim_cfg(plain, cpu, amp) is plain
    assert benchmark.train_optim_cfg(plain, cuda, False) is plain
    assert benchmark.train_optim_cfg(plain, cuda, True) == dict(
        type='AmpOptimWrapper', optimizer=sgd)


def test_compile_compiles_the_train_steps_once(benchmark, capsys):
    torch._dynamo.reset()
    try:
        result = benchmark.main([
            CONFIG, '--batch-size', '2', '--repeats', '2', '--compile',
            'eager', '--device', 'cpu', '--threads', '1', '--warmup', '2',
            '--cfg-options', *[f'{k}={v}' for k, v in TINY.items()]
        ])
    finally:
        torch._dynamo.reset()
    out = capsys.readouterr().out
    graphs, breaks = result['graphs']['warm']
    assert graphs > 0 and result['graphs']['after'] == 0
    assert (f'torch.compile(eager) of the train steps, inference eager: '
            f'{graphs} graphs and {breaks} graph breaks in the warm-up (both '
            'models), 0 graphs compiled after it') in out
