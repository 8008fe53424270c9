"""tools/analysis_tools/benchmark_deploy.py on a tiny WRN (figures, not
timings)."""
import os.path as osp
import statistics

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.utils.tools import load_tool

CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_cifar10.py')
# WRN-10-1 with Linear(64, 10); the kept heads add a second Linear(64, 10).
VANILLA_PARAMS = 77_850
MIXMO_PARAMS = VANILLA_PARAMS + 650


@pytest.fixture(scope='module')
def benchmark():
    return load_tool('analysis_tools/benchmark_deploy.py')


@pytest.fixture(autouse=True)
def restore_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_report_tiny_wrn(benchmark, capsys):
    pytest.importorskip('onnxruntime', reason='the onnx extra is absent: '
                        'pip install -e .[onnx]')
    pytest.importorskip('onnx', reason='the onnx extra is absent: '
                        'pip install -e .[onnx]')
    result = benchmark.main([CONFIG, '--batch-sizes', '1', '2', '--repeats',
                             '1', '--warmup', '0', '--threads', '1'])
    lines = capsys.readouterr().out.splitlines()
    start = lines.index(result['hardware'])
    assert lines[start].startswith('Hardware: CPU ')
    assert lines[start].endswith(' (1 intra-op threads)')
    assert ', onnxruntime ' in lines[start]
    assert torch.get_num_threads() == 1
    assert lines[start + 2].startswith(
        'Input: raw 0-255 float32 images 3x32x32, ')
    assert result['img_size'] == 32
    assert result['params'] == dict(vanilla=VANILLA_PARAMS,
                                    mixmo=MIXMO_PARAMS)
    assert f'MixMo with heads {MIXMO_PARAMS:,}, vanilla ' \
        f'{VANILLA_PARAMS:,}' in lines[start + 3]
    # the exported graphs compute what the folded models compute
    assert 0 <= result['max_abs_diff'] <= 1e-5

    table = lines[start + 4:start + 4 + 10]
    assert [c.strip() for c in table[0].strip('|').split('|')] == list(
        benchmark.COLUMNS)
    assert set(table[1]) == {'|', '-'}
    cells = [[c.strip() for c in line.strip('|').split('|')]
             for line in table[2:]]
    keys = [(r['runtime'], r['batch_size'], r['model'])
            for r in result['rows']]
    assert keys == [(runtime, batch, model) for batch in (1, 2)
                    for runtime in ('pytorch', 'onnxruntime')
                    for model in ('vanilla', 'mixmo')]
    assert [tuple(c[:3]) for c in cells] == [
        (runtime, str(batch), model) for runtime, batch, model in keys]
    assert lines[start + 14].startswith('time ratio: ')

    assert set(result['times']) == {(runtime, batch) for batch in (1, 2)
                                    for runtime in ('pytorch', 'onnxruntime')}
    for row, cell in zip(result['rows'], cells):
        got = result['times'][row['runtime'], row['batch_size']]
        assert len(got['mixmo']) == len(got['vanilla']) == 1
        seconds = statistics.median(got[row['model']])
        assert seconds > 0 and row['iters'] == 1
        assert row['ms_per_batch'] == pytest.approx(1e3 * seconds)
        assert row['img_per_s'] == pytest.approx(row['batch_size'] / seconds)
        ratio = (got['mixmo'][0] / got['vanilla'][0]
                 if row['model'] == 'mixmo' else 1.0)
        assert row['ratio'] == pytest.approx(ratio)
        assert cell[3:] == [f'{row["ms_per_batch"]:.2f}',
                            f'{row["img_per_s"]:.1f}', f'{row["ratio"]:.3f}']


def test_parse_args(benchmark):
    # the default side is the larger of the config's input size
    # (mmmixmo.datasets.model_inputs.input_size; 32 in test_report_tiny_wrn)
    args = benchmark.parse_args([CONFIG])
    assert (args.batch_sizes, args.img_size) == ([1, 64], None)
    with pytest.raises(SystemExit):
        benchmark.parse_args([CONFIG, '--batch-sizes', '0'])


def test_rejects_a_non_mixmo_config(benchmark, tmp_path):
    pytest.importorskip('onnxruntime', reason='the onnx extra is absent: '
                        'pip install -e .[onnx]')
    vanilla = osp.join(REPO_ROOT, 'configs', 'quickstart',
                       'vanilla_wrn16-1_1xb64_digits.py')
    with pytest.raises(ValueError, match='needs a MixMoClassifier config'):
        benchmark.main([vanilla, '--batch-sizes', '1', '--repeats', '1'])


def test_img_size_reaches_the_onnx_export(benchmark, capsys):
    """A side other than the export's default: both runtimes take it."""
    pytest.importorskip('onnxruntime', reason='the ONNX runtime is optional')
    result = benchmark.main([
        CONFIG, '--img-size', '40', '--batch-sizes', '1', '--repeats', '1',
        '--warmup', '0', '--threads', '1'
    ])
    assert result['img_size'] == 40
    assert result['max_abs_diff'] <= 1e-5
    assert 'images 3x40x40' in capsys.readouterr().out
