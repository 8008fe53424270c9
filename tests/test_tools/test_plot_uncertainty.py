"""tools/analysis_tools/plot_uncertainty.py on predictions dumped for real.

The results pickles are written the way ``tools/test.py --out`` writes them:
predictions of the real heads (MixMo's ``MultiHeadClsHead``, mmpretrain's
``LinearClsHead``) passed through mmengine's ``Evaluator`` to its
``DumpResults`` metric. The MixMo head's linear layer is set to the identity,
so the head logits are the hand-chosen features below.
"""
import importlib.util
import os.path as osp
import pickle
from typing import List

import pytest
import torch
from matplotlib.image import imread
from mmengine.evaluator import DumpResults, Evaluator
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.structures import DataSample

from mmmixmo.models.heads import MultiHeadClsHead
from tests.conftest import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'plot_uncertainty.py')
PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'

# N = 4 samples, M = 2 heads, K = 3 classes.
LABELS = [0, 1, 2, 0]
HEAD_LOGITS = torch.tensor([
    [[2., 0., 0.], [0., 1.5, 0.]],  # head 0 right (0), head 1 wrong (1)
    [[0., 3., 0.], [0., 3., 0.]],  # both right (1)
    [[0., 0., 2.], [1., 0., 0.]],  # head 0 right (2), head 1 wrong (0)
    [[0., 1., 0.], [0., 1., 0.]],  # both wrong (1)
])
# Head 0 right on 3/4, head 1 on 1/4; the heads agree on samples 1 and 3.
# Mean logits [1, .75, 0], [0, 3, 0], [.5, 0, 1], [0, 1, 0]: the ensemble
# is right on samples 0, 1, 2.


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('mmmixmo_plot_uncertainty',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _dump(samples: List[DataSample], path: str) -> str:
    """Write predictions as tools/test.py --out does (DumpResults)."""
    evaluator = Evaluator([DumpResults(out_file_path=path)])
    evaluator.process(samples)
    evaluator.evaluate(len(samples))
    return path


def _gt_samples(labels: List[int]) -> List[DataSample]:
    return [DataSample().set_gt_label(label) for label in labels]


def _mixmo_results(path: str, head_logits: torch.Tensor,
                   labels: List[int]) -> str:
    num, num_heads, num_classes = head_logits.shape
    head = MultiHeadClsHead(
        num_members=num_heads,
        num_classes=num_classes,
        in_channels=num_heads * num_classes)
    with torch.no_grad():
        head.fc.weight.copy_(torch.eye(num_heads * num_classes))
        head.fc.bias.zero_()
    samples = head.predict((head_logits.reshape(num, -1), ),
                           _gt_samples(labels))
    return _dump(samples, path)


@pytest.fixture
def mixmo_results(tmp_path) -> str:
    return _mixmo_results(
        str(tmp_path / 'mixmo.pkl'), HEAD_LOGITS, LABELS)


@pytest.fixture
def vanilla_results(tmp_path) -> str:
    torch.manual_seed(0)
    head = LinearClsHead(num_classes=3, in_channels=5)
    samples = head.predict((torch.randn(6, 5), ),
                           _gt_samples([0, 1, 2, 0, 1, 2]))
    return _dump(samples, str(tmp_path / 'vanilla.pkl'))


def _assert_png(path: str) -> None:
    assert osp.getsize(path) > 1000
    with open(path, 'rb') as f:
        assert f.read(8) == PNG_SIGNATURE
    image = imread(path)
    assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300
    assert image.std() > 0.01  # something is drawn


def test_dumped_format_is_what_the_tool_reads(mixmo_results):
    with open(mixmo_results, 'rb') as f:
        results = pickle.load(f)
    assert isinstance(results, list) and len(results) == 4
    assert {'pred_score', 'pred_label', 'gt_label',
            'head_logits'} <= set(results[0])
    torch.testing.assert_close(results[2]['head_logits'], HEAD_LOGITS[2])


def test_figure_data_of_the_mixmo_results(tool, mixmo_results):
    data = tool.figure_data(tool.load_results(mixmo_results), num_bins=15)
    assert data['top1'] == pytest.approx(75.0)
    assert data['bins']['counts'].sum() == 4
    assert data['scores']['ece'] == float(data['bins']['ece'])
    torch.testing.assert_close(
        data['agreement'],
        torch.tensor([[1.0, 0.5], [0.5, 1.0]], dtype=torch.float64))
    assert data['head_top1'] == pytest.approx([75.0, 25.0])
    assert data['ensemble_top1'] == pytest.approx(75.0)
    assert data['diversity']['ensemble_gain'] == pytest.approx(25.0)
    # head 0 is right on 3 of 4, head 1 on 1 of 4
    assert [float((b['counts'] * b['accuracy']).nansum())
            for b in data['head_bins']] == pytest.approx([3.0, 1.0])


def test_mixmo_results_write_three_pngs(tool, mixmo_results, tmp_path,
                                        capsys):
    out_dir = tmp_path / 'figures'
    written = tool.main([
        mixmo_results, '--out-dir',
        str(out_dir), '--num-bins', '10', '--title', 'Cut-MixMo test'
    ])
    expected = {
        name: str(out_dir / f'{name}.png')
        for name in ('reliability', 'head_agreement', 'head_reliability')
    }
    assert written == expected
    for path in expected.values():
        _assert_png(path)
    assert 'ensemble top-1 75.00%' in capsys.readouterr().out


def test_out_dir_defaults_to_the_results_folder(tool, mixmo_results):
    written = tool.main([mixmo_results])
    assert osp.dirname(written['reliability']) == osp.dirname(
        osp.abspath(mixmo_results))
    _assert_png(written['reliability'])


def test_vanilla_results_write_only_the_reliability_diagram(
        tool, vanilla_results, tmp_path, capsys):
    out_dir = tmp_path / 'figures'
    written = tool.main([vanilla_results, '--out-dir', str(out_dir)])
    assert list(written) == ['reliability']
    _assert_png(str(out_dir / 'reliability.png'))
    assert not (out_dir / 'head_agreement.png').exists()
    assert not (out_dir / 'head_reliability.png').exists()
    out = capsys.readouterr().out
    assert 'no `head_logits`' in out and 'only reliability.png' in out


def test_single_head_writes_only_the_reliability_diagram(tool, tmp_path):
    path = _mixmo_results(
        str(tmp_path / 'one_head.pkl'), HEAD_LOGITS[:, :1], LABELS)
    written = tool.main([path, '--out-dir', str(tmp_path / 'figures')])
    assert list(written) == ['reliability']
    assert not (tmp_path / 'figures' / 'head_agreement.png').exists()


def test_errors_name_the_problem(tool, tmp_path, mixmo_results):
    metrics = str(tmp_path / 'metrics.pkl')
    with open(metrics, 'wb') as f:
        pickle.dump({'accuracy/top1': 50.0}, f)
    with pytest.raises(ValueError, match='--out-item'):
        tool.main([metrics])

    with open(mixmo_results, 'rb') as f:
        results = pickle.load(f)
    del results[1]['head_logits']
    mixed = str(tmp_path / 'mixed.pkl')
    with open(mixed, 'wb') as f:
        pickle.dump(results, f)
    with pytest.raises(ValueError, match='head_logits.* 3 of 4'):
        tool.main([mixed, '--out-dir', str(tmp_path / 'mixed')])
    assert not (tmp_path / 'mixed').exists()

    del results[0]['gt_label']
    unlabelled = str(tmp_path / 'unlabelled.pkl')
    with open(unlabelled, 'wb') as f:
        pickle.dump(results, f)
    with pytest.raises(ValueError, match='sample 0 .* no `gt_label`'):
        tool.main([unlabelled])

    with pytest.raises(FileNotFoundError):
        tool.main([str(tmp_path / 'missing.pkl')])
    with pytest.raises(SystemExit):
        tool.main([mixmo_results, '--num-bins', '0'])
