"""tools/analysis_tools/plot_uncertainty.py on predictions dumped for real.

The results pickles are written the way ``tools/test.py --out`` writes them:
predictions of the real heads (MixMo's ``MultiHeadClsHead``, mmpretrain's
``LinearClsHead``) passed through mmengine's ``Evaluator`` to its
``DumpResults`` metric. The MixMo head's linear layer is set to the identity,
so the head logits are the hand-chosen features below. OOD results carry
``is_ood`` in the metainfo and ``gt_label`` -1, as ``OODDataset`` sets them.
"""
import os.path as osp
import pickle
from typing import List, Optional

import pytest
import torch
import torch.nn.functional as F
from matplotlib.image import imread
from mmengine.evaluator import DumpResults, Evaluator
from mmpretrain.models.heads import LinearClsHead
from mmpretrain.structures import DataSample

from mmmixmo.apis import uncertainty_plots as plots
from mmmixmo.evaluation.functional import (aurc, auroc, risk_coverage_curve,
                                           roc_curve, uncertainty_scores)
from mmmixmo.models.heads import MultiHeadClsHead
from tests.utils.tools import load_tool

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
# is right on samples 0, 1, 2. Its confidences .466, .909, .506, .576 rank
# the samples 1, 3 (wrong), 2, 0: coverage 1/4 .. 1, risk 0, 1/2, 1/3, 1/4,
# AURC = (0 + 1/2 + 1/3 + 1/4) / 4.
RISK = [0, 1 / 2, 1 / 3, 1 / 4]
AURC = (1 / 2 + 1 / 3 + 1 / 4) / 4

# 3 OOD samples interleaved with the 4 above (at indices 1, 4, 6).
OOD_HEAD_LOGITS = torch.tensor([
    [[0., 0., 0.], [0., 0., 0.]],  # uniform; heads agree (argmax 0)
    [[2., 0., 0.], [0., 2., 0.]],  # heads disagree
    [[0., 0., 4.], [0., 0., 4.]],  # confident; heads agree
])
OOD_INDEX = [1, 4, 6]
# 1 - max prob: in .534, .091, .494, .424; OOD 2/3, .578, .035: the first two
# OOD rank above every in-distribution sample, the third below: AUROC 8/12.
# Disagreement: in 1, 0, 1, 0; OOD 0, 1, 0: AUROC (1 + 3 + 1) / 12, a tie
# counting 1/2.


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/plot_uncertainty.py')


def _dump(samples: List[DataSample], path: str) -> str:
    """Write predictions as tools/test.py --out does (DumpResults)."""
    evaluator = Evaluator([DumpResults(out_file_path=path)])
    evaluator.process(samples)
    evaluator.evaluate(len(samples))
    return path


def _gt_samples(labels: List[int],
                is_ood: Optional[List[bool]] = None) -> List[DataSample]:
    if is_ood is None:
        return [DataSample().set_gt_label(label) for label in labels]
    return [
        DataSample(metainfo=dict(is_ood=ood)).set_gt_label(label)
        for label, ood in zip(labels, is_ood)
    ]


def _with_ood(member_logits: torch.Tensor, labels: List[int],
              ood_logits: torch.Tensor, ood_index: List[int]):
    """Insert OOD samples (label -1) at ``ood_index``; returns ``is_ood``."""
    num = len(labels) + len(ood_index)
    is_ood = [i in ood_index for i in range(num)]
    in_dist, ood = iter(zip(member_logits, labels)), iter(ood_logits)
    samples = [(next(ood), -1) if flag else next(in_dist) for flag in is_ood]
    return (torch.stack([s[0] for s in samples]), [s[1] for s in samples],
            is_ood)


def _mixmo_results(path: str,
                   member_logits: torch.Tensor,
                   labels: List[int],
                   is_ood: Optional[List[bool]] = None) -> str:
    num, num_heads, num_classes = member_logits.shape
    head = MultiHeadClsHead(
        num_members=num_heads,
        num_classes=num_classes,
        in_channels=num_heads * num_classes)
    with torch.no_grad():
        head.fc.weight.copy_(torch.eye(num_heads * num_classes))
        head.fc.bias.zero_()
    samples = head.predict((member_logits.reshape(num, -1), ),
                           _gt_samples(labels, is_ood))
    return _dump(samples, path)


@pytest.fixture
def mixmo_results(tmp_path) -> str:
    return _mixmo_results(
        str(tmp_path / 'mixmo.pkl'), HEAD_LOGITS, LABELS)


@pytest.fixture
def ood_results(tmp_path) -> str:
    return _mixmo_results(
        str(tmp_path / 'mixmo_ood.pkl'),
        *_with_ood(HEAD_LOGITS, LABELS, OOD_HEAD_LOGITS, OOD_INDEX))


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
            'member_logits'} <= set(results[0])
    torch.testing.assert_close(results[2]['member_logits'], HEAD_LOGITS[2])


def test_figure_data_of_the_mixmo_results(mixmo_results):
    data = plots.figure_data(plots.load_results(mixmo_results), num_bins=15)
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
    coverage, risk = data['risk_coverage']
    torch.testing.assert_close(
        coverage, torch.tensor([.25, .5, .75, 1], dtype=torch.float64))
    torch.testing.assert_close(risk, torch.tensor(RISK, dtype=torch.float64))
    assert data['aurc'] == pytest.approx(AURC)
    assert data['num_in'] == 4 and 'roc' not in data


def test_risk_coverage_figure_plots_the_functional_curve(
        mixmo_results, tmp_path):
    results = plots.load_results(mixmo_results)
    data = plots.figure_data(results, num_bins=15)
    fig = plots.plot_risk_coverage(data, 'rc', str(tmp_path / 'rc.png'))
    _assert_png(str(tmp_path / 'rc.png'))
    curve = fig.axes[0].lines[0]
    scores = torch.stack([r['pred_score'] for r in results]).double()
    labels = torch.cat([r['gt_label'] for r in results])
    correct = scores.argmax(dim=1) == labels
    coverage, risk = risk_coverage_curve(scores.max(dim=1).values, correct)
    assert curve.get_xdata().tolist() == coverage.tolist()
    assert curve.get_ydata().tolist() == risk.tolist()
    value = aurc(scores.max(dim=1).values, correct)
    assert value == pytest.approx(AURC)
    assert curve.get_label() == f'AURC = {value:.4f}'


def test_mixmo_results_write_four_pngs(tool, mixmo_results, tmp_path,
                                       capsys):
    out_dir = tmp_path / 'figures'
    written = tool.main([
        mixmo_results, '--out-dir',
        str(out_dir), '--num-bins', '10', '--title', 'Cut-MixMo test'
    ])
    expected = {
        name: str(out_dir / f'{name}.png')
        for name in ('reliability', 'risk_coverage', 'head_agreement',
                     'head_reliability')
    }
    assert written == expected
    for path in expected.values():
        _assert_png(path)
    assert not (out_dir / 'ood_roc.png').exists()
    out = capsys.readouterr().out
    assert 'ensemble top-1 75.00%' in out
    assert f'AURC = {AURC:.4f} on 4 in-distribution samples' in out
    assert f'saved {expected["risk_coverage"]}' in out


def test_out_dir_defaults_to_the_results_folder(tool, mixmo_results):
    written = tool.main([mixmo_results])
    assert osp.dirname(written['reliability']) == osp.dirname(
        osp.abspath(mixmo_results))
    _assert_png(written['reliability'])


def test_vanilla_results_write_no_head_figures(
        tool, vanilla_results, tmp_path, capsys):
    out_dir = tmp_path / 'figures'
    written = tool.main([vanilla_results, '--out-dir', str(out_dir)])
    assert list(written) == ['reliability', 'risk_coverage']
    _assert_png(str(out_dir / 'reliability.png'))
    _assert_png(str(out_dir / 'risk_coverage.png'))
    assert not (out_dir / 'head_agreement.png').exists()
    assert not (out_dir / 'head_reliability.png').exists()
    out = capsys.readouterr().out
    assert 'no `member_logits`' in out and 'no head_agreement.png' in out


def test_single_head_writes_no_head_figures(tool, tmp_path):
    path = _mixmo_results(
        str(tmp_path / 'one_head.pkl'), HEAD_LOGITS[:, :1], LABELS)
    written = tool.main([path, '--out-dir', str(tmp_path / 'figures')])
    assert list(written) == ['reliability', 'risk_coverage']
    assert not (tmp_path / 'figures' / 'head_agreement.png').exists()


def _ood_reference(results: List[dict], with_heads: bool = True):
    """The functional ROC of every uncertainty score, OOD positive."""
    is_ood = torch.tensor([r['is_ood'] for r in results])
    probs = torch.stack([r['pred_score'] for r in results]).double()
    member_logits = torch.stack([r['member_logits'] for r in results
                                 ]).double() if with_heads else None
    member_probs = F.softmax(member_logits, dim=2) if with_heads else None
    # the energy and max-logit of the mean member logits (ood_logits)
    logits = member_logits.mean(1) if with_heads else None
    scores = uncertainty_scores(probs, member_probs, logits)
    return ({name: roc_curve(score, is_ood)
             for name, score in scores.items()},
            {name: auroc(score, is_ood)
             for name, score in scores.items()})


def test_ood_results_give_the_functional_roc(ood_results, mixmo_results,
                                             tmp_path):
    results = plots.load_results(ood_results)
    data = plots.figure_data(results, num_bins=15)
    rocs, aurocs = _ood_reference(results)
    assert list(data['roc']) == [
        'max_prob', 'entropy', 'mutual_information', 'disagreement',
        'energy', 'max_logit'
    ]
    assert data['auroc'] == aurocs
    assert data['auroc']['max_prob'] == pytest.approx(8 / 12)
    assert data['auroc']['disagreement'] == pytest.approx(5 / 12)
    assert data['num_in'] == 4 and data['num_ood'] == 3
    fig = plots.plot_ood_roc(data, 'ood', str(tmp_path / 'roc.png'))
    _assert_png(str(tmp_path / 'roc.png'))
    *curves, chance = fig.axes[0].lines
    assert chance.get_label() == 'Chance'
    assert len(curves) == 6
    for curve, (name, (fpr, tpr, _)) in zip(curves, rocs.items()):
        assert curve.get_label() == f'{name} (AUROC = {aurocs[name]:.4f})'
        assert curve.get_xdata().tolist() == fpr.tolist()
        assert curve.get_ydata().tolist() == tpr.tolist()
    # max_prob: 7 distinct scores, ROC points (0, 0) then one per score
    assert rocs['max_prob'][0].tolist() == [0, 0, 0, .25, .5, .75, 1, 1]
    assert rocs['max_prob'][1].tolist() == [0, 1 / 3, 2 / 3, 2 / 3, 2 / 3,
                                            2 / 3, 2 / 3, 1]


def test_ood_samples_are_left_out_of_the_other_figures(
        ood_results, mixmo_results, tmp_path):
    data = plots.figure_data(plots.load_results(ood_results), num_bins=10)
    in_dist = plots.figure_data(plots.load_results(mixmo_results), num_bins=10)
    for key in ('bins', 'scores', 'top1', 'mean_conf', 'diversity',
                'head_bins', 'head_top1', 'agreement', 'ensemble_top1',
                'risk_coverage', 'aurc'):
        torch.testing.assert_close(
            data[key], in_dist[key], equal_nan=True, msg=key)
    assert data['bins']['counts'].sum() == 4
    fig = plots.plot_reliability(data, 'ood', str(tmp_path / 'rel.png'))
    assert fig.axes[0].texts[0].get_text().startswith('N = 4, 10 bins')
    fig = plots.plot_risk_coverage(data, 'ood', str(tmp_path / 'rc.png'))
    assert fig.axes[0].lines[0].get_ydata().tolist() == pytest.approx(RISK)


def test_ood_results_write_the_roc(tool, ood_results, tmp_path, capsys):
    out_dir = tmp_path / 'figures'
    written = tool.main([ood_results, '--out-dir', str(out_dir)])
    assert list(written) == [
        'reliability', 'risk_coverage', 'ood_roc', 'head_agreement',
        'head_reliability'
    ]
    for path in written.values():
        _assert_png(path)
    out = capsys.readouterr().out
    assert 'on 4 in-distribution samples' in out
    assert (f'OOD detection (3 OOD samples): AUROC max_prob {8 / 12:.4f}, '
            'entropy ') in out
    assert f'disagreement {5 / 12:.4f}' in out
    assert f'saved {written["ood_roc"]}' in out


def test_ood_vanilla_results_roc_of_the_prediction_scores(tool, tmp_path):
    torch.manual_seed(0)
    labels, is_ood = [0, 1, -1, 2, -1], [False, False, True, False, True]
    samples = LinearClsHead(num_classes=3, in_channels=5).predict(
        (torch.randn(5, 5), ), _gt_samples(labels, is_ood))
    path = _dump(samples, str(tmp_path / 'vanilla_ood.pkl'))
    results = plots.load_results(path)
    data = plots.figure_data(results, num_bins=15)
    rocs, aurocs = _ood_reference(results, with_heads=False)
    assert list(data['roc']) == ['max_prob', 'entropy']
    assert data['auroc'] == aurocs
    for name, curve in rocs.items():
        for got, expected in zip(data['roc'][name], curve):
            torch.testing.assert_close(got, expected, rtol=0, atol=0)
    written = tool.main([path, '--out-dir', str(tmp_path / 'figures')])
    assert list(written) == ['reliability', 'risk_coverage', 'ood_roc']


def test_in_distribution_only_is_ood_draws_no_roc(tool, tmp_path):
    path = _mixmo_results(
        str(tmp_path / 'in.pkl'), HEAD_LOGITS, LABELS, [False] * 4)
    written = tool.main([path, '--out-dir', str(tmp_path / 'figures')])
    assert 'ood_roc' not in written and len(written) == 4
    assert not (tmp_path / 'figures' / 'ood_roc.png').exists()


def test_errors_name_the_problem(tool, tmp_path, mixmo_results,
                                 ood_results):
    metrics = str(tmp_path / 'metrics.pkl')
    with open(metrics, 'wb') as f:
        pickle.dump({'accuracy/top1': 50.0}, f)
    with pytest.raises(ValueError, match='--out-item'):
        tool.main([metrics])

    with open(mixmo_results, 'rb') as f:
        results = pickle.load(f)
    del results[1]['member_logits']
    mixed = str(tmp_path / 'mixed.pkl')
    with open(mixed, 'wb') as f:
        pickle.dump(results, f)
    with pytest.raises(ValueError, match='member_logits.* 3 of 4'):
        tool.main([mixed, '--out-dir', str(tmp_path / 'mixed')])
    assert not (tmp_path / 'mixed').exists()

    del results[0]['gt_label']
    unlabelled = str(tmp_path / 'unlabelled.pkl')
    with open(unlabelled, 'wb') as f:
        pickle.dump(results, f)
    with pytest.raises(ValueError, match='sample 0 .* no `gt_label`'):
        tool.main([unlabelled])

    all_ood = _mixmo_results(
        str(tmp_path / 'all_ood.pkl'), OOD_HEAD_LOGITS, [-1] * 3, [True] * 3)
    with pytest.raises(ValueError, match='all 3 samples are OOD'):
        tool.main([all_ood])

    with open(ood_results, 'rb') as f:
        results = pickle.load(f)
    del results[OOD_INDEX[0]]['member_logits']
    ood_mixed = str(tmp_path / 'ood_mixed.pkl')
    with open(ood_mixed, 'wb') as f:
        pickle.dump(results, f)
    with pytest.raises(ValueError, match='member_logits.* 6 of 7'):
        tool.main([ood_mixed, '--out-dir', str(tmp_path / 'ood_mixed')])
    assert not (tmp_path / 'ood_mixed').exists()

    with pytest.raises(FileNotFoundError):
        tool.main([str(tmp_path / 'missing.pkl')])
    with pytest.raises(SystemExit):
        tool.main([mixmo_results, '--num-bins', '0'])
