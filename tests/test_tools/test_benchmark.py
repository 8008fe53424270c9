"""tools/analysis_tools/benchmark.py on a tiny model (output, not timing)."""
import importlib.util
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from tests.conftest import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'benchmark.py')
CONFIG = osp.join(REPO_ROOT, 'configs', 'mixmo',
                  'cut-mixmo_wrn28-10_1xb64-b4_cifar100.py')
# WRN-10-1: widths 16, 32, 64; CIFAR-100 heads on 64 features.
TINY = [
    '--cfg-options', 'model.backbone.depth=10',
    'model.backbone.widen_factor=1', 'model.head.in_channels=64'
]


@pytest.fixture(scope='module')
def benchmark():
    spec = importlib.util.spec_from_file_location('mmmixmo_tools_benchmark',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _table(text):
    """The markdown table of the report: header and rows as cell lists."""
    lines = [line for line in text.splitlines() if line.startswith('|')]
    cells = [[c.strip() for c in line.strip('|').split('|')] for line in lines]
    assert set(''.join(cells[1])) == {'-'}  # separator line
    return cells[0], cells[2:]


def test_report_tiny_wrn(benchmark, capsys):
    result = benchmark.main([
        CONFIG, '--batch-size', '4', '--repeats', '1', '--warmup', '0',
        '--device', 'cpu', *TINY
    ])
    out = capsys.readouterr().out
    header, rows = _table(out)
    assert tuple(header) == benchmark.TABLE_COLUMNS == (
        'phase', 'model', 'img/s (median)', 'ms/iter (median)',
        'time ratio MixMo/vanilla', 'ratio min-max', 'peak mem (MiB)')
    assert [row[:2] for row in rows] == [['train', 'vanilla'],
                                         ['train', 'mixmo'],
                                         ['inference', 'vanilla'],
                                         ['inference', 'mixmo']]
    for row, values in zip(rows, result['rows']):
        images_per_s, ms, ratio, peak = map(float,
                                            (row[2], row[3], row[4], row[6]))
        assert images_per_s > 0 and ms > 0 and ratio > 0 and peak > 0
        low, high = map(float, row[5].split('-'))
        assert 0 < low <= ratio <= high
        # The cells are the measured values, rounded for printing.
        assert row[2] == f'{values["images_per_s"]:.2f}'
        assert row[3] == f'{values["ms_per_iter"]:.2f}'
        # img/s and ms/iter describe the same median time of 4 images
        # (compared unrounded: a 1.7 ms cell is only good to 3%).
        assert values['images_per_s'] == pytest.approx(
            4000 / values['ms_per_iter'], rel=1e-9)
    assert rows[0][4] == rows[2][4] == '1.000'  # vanilla is the reference

    # One repeat: the ratio is the one paired measurement.
    times = result['times']
    for phase, row in (('train', result['rows'][1]),
                       ('inference', result['rows'][3])):
        assert len(times[phase]['mixmo']) == len(times[phase]['vanilla']) == 1
        assert row['ratio'] == pytest.approx(
            times[phase]['mixmo'][0] / times[phase]['vanilla'][0])

    # Params: MixMo adds one 3->16 3x3 encoder (no bias) and a second head
    # (64 * 100 + 100); folding the encoders removes the extra encoder.
    params = result['params']
    assert params['mixmo'] - params['vanilla'] == 16 * 3 * 9 + 64 * 100 + 100
    assert params['mixmo_folded'] == params['vanilla'] + 64 * 100 + 100
    assert f'Params: vanilla {params["vanilla"]:,} | MixMo ' \
        f'{params["mixmo"]:,}' in out

    lines = out.splitlines()
    assert lines[0] == result['hardware']
    assert lines[0].startswith('Hardware: CPU ')
    assert 'logical cores' in lines[0] and 'intra-op threads' in lines[0]
    assert f'torch {torch.__version__}' in lines[0]
    assert 'Batch: 4 slots of 3x32x32 (MixMo: M=2' in out
    assert '> 1 means MixMo is slower' in out


def test_vanilla_counterpart(benchmark):
    cfg = Config.fromfile(CONFIG)
    mixmo = benchmark.mixmo_model_cfg(cfg)
    vanilla = benchmark.vanilla_model_cfg(mixmo)
    assert vanilla.type == 'ImageClassifier'
    assert vanilla.backbone == mixmo.backbone
    assert vanilla.neck == mixmo.neck
    assert vanilla.head == dict(
        type='LinearClsHead',
        num_classes=100,
        in_channels=640,
        loss=dict(type='CrossEntropyLoss', loss_weight=1.0))
    expected = dict(mixmo.data_preprocessor)
    expected.pop('num_members', None)
    expected['type'] = 'ClsDataPreprocessor'
    assert vanilla.data_preprocessor == expected
    assert vanilla.data_preprocessor.mean == [129.304, 124.070, 112.434]
    # No neck key: MixMoClassifier's default (global average pooling).
    del mixmo['neck']
    assert benchmark.vanilla_model_cfg(mixmo).neck == dict(
        type='GlobalAveragePooling')


def test_input_size_and_errors(benchmark):
    assert benchmark.infer_img_size(Config.fromfile(CONFIG)) == (32, 32)
    tiny_imagenet = osp.join(
        REPO_ROOT, 'configs', 'mixmo',
        'cut-mixmo_preact-resnet18-w1_1xb100-b4_tiny-imagenet.py')
    assert benchmark.infer_img_size(
        Config.fromfile(tiny_imagenet)) == (64, 64)
    with pytest.raises(ValueError, match='pass --img-size'):
        benchmark.infer_img_size(Config(dict(train_dataloader=dict())))
    vanilla = osp.join(REPO_ROOT, 'configs', 'baselines',
                       'vanilla_wrn28-10_1xb64_cifar100.py')
    with pytest.raises(ValueError, match="model.type='ImageClassifier'"):
        benchmark.mixmo_model_cfg(Config.fromfile(vanilla))
    with pytest.raises(SystemExit):
        benchmark.parse_args([CONFIG, '--repeats', '0'])


def test_amp_on_cpu_runs_under_bfloat16_autocast(benchmark, capsys,
                                                 monkeypatch):
    dtypes = []
    forward = benchmark.MixMoClassifier.forward

    def recording_forward(self, *args, **kwargs):
        dtypes.append(torch.get_autocast_dtype('cpu')
                      if torch.is_autocast_enabled('cpu') else None)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(benchmark.MixMoClassifier, 'forward',
                        recording_forward)
    result = benchmark.main([
        CONFIG, '--batch-size', '2', '--repeats', '1', '--warmup', '0',
        '--device', 'cpu', '--amp', *TINY
    ])
    assert 'amp bfloat16' in capsys.readouterr().out
    assert len(result['rows']) == 4
    # MixMo's train and inference steps both ran under bfloat16 autocast.
    assert dtypes and set(dtypes) == {torch.bfloat16}
