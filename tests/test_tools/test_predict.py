"""tools/predict.py on a tiny MixMo: table, JSON, CSV, flags, inputs, ONNX."""
import csv
import json
import os
import os.path as osp

import mmcv
import pytest

from mmmixmo.apis import UncertaintyInferencer
from tests.test_apis.test_uncertainty_inferencer import (CLASSES,
                                                         make_tiny_model,
                                                         write_images)
from tests.utils.tools import load_tool

SCORES = ['max_prob', 'entropy', 'mutual_information', 'disagreement']


@pytest.fixture(scope='module')
def tool():
    return load_tool('predict.py')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    """Models, and images: a folder tree, a list file and a loose file."""
    root = str(tmp_path_factory.mktemp('predict'))
    tree = osp.join(root, 'tree')
    os.makedirs(osp.join(tree, 'sub', 'deeper'))
    # written out of order; a non-image file that the search skips
    files = write_images(tree, ['b.png', 'sub/deeper/a.jpg', 'sub/c.png',
                                'a.PNG'])
    with open(osp.join(tree, 'notes.txt'), 'w') as file:
        file.write('not an image\n')
    loose = write_images(root, ['x.png', 'y.jpg'], seed=1)
    listing = osp.join(root, 'list.txt')
    with open(listing, 'w') as file:
        file.write('y.jpg\n\nx.png\n')
    return dict(
        mixmo=make_tiny_model(root),
        vanilla=make_tiny_model(root, mixmo=False),
        root=root,
        tree=tree,
        tree_sorted=sorted(files),
        loose=loose,
        listing=listing)


def _expected(tiny, name, files):
    inferencer = UncertaintyInferencer(
        tiny[name]['config'],
        pretrained=tiny[name]['checkpoint'],
        device='cpu')
    return inferencer(files, batch_size=len(files))


def test_table_json_csv_and_flags(tool, tiny, capsys):
    files = tiny['tree_sorted'] + [tiny['loose'][1], tiny['loose'][0]]
    want = _expected(tiny, 'mixmo', files)
    entropies = sorted(r['uncertainty']['entropy'] for r in want)
    threshold = (entropies[2] + entropies[3]) / 2
    out_json = osp.join(tiny['root'], 'out', 'preds.json')
    out_csv = osp.join(tiny['root'], 'out', 'preds.csv')
    capsys.readouterr()
    records = tool.main([
        tiny['mixmo']['config'], tiny['mixmo']['checkpoint'], tiny['tree'],
        tiny['listing'], '--out-json', out_json, '--out-csv', out_csv,
        '--flag', f'entropy={threshold}', '--flag', 'disagreement=0.5',
        '--batch-size', '4'
    ])
    assert [r['file'] for r in records] == files
    for record, result in zip(records, want):
        for key in ('pred_label', 'pred_class', 'member_labels',
                    'member_classes'):
            assert record[key] == result[key]
        assert record['pred_score'] == pytest.approx(result['pred_score'],
                                                     abs=1e-6)
        assert record['uncertainty'] == pytest.approx(
            result['uncertainty'], abs=1e-6)
        flagged = (['entropy'] *
                   (result['uncertainty']['entropy'] > threshold) +
                   ['disagreement'] *
                   (result['uncertainty']['disagreement'] > 0.5))
        assert record['flagged'] == flagged
    assert sum('entropy' in r['flagged'] for r in records) == 3

    captured = capsys.readouterr()
    assert '6/6' in captured.err  # the progress bar, for 6 images
    lines = captured.out.strip().split('\n')
    assert lines[0].split() == ['file', 'class', 'prob', 'members', *SCORES,
                                'flag']
    assert lines[-1] == \
        f'flagged: {sum(bool(r["flagged"]) for r in records)} of 6'
    for line, r in zip(lines[1:7], records):
        assert line.split() == [
            r['file'], r['pred_class'], f'{r["pred_score"]:.4f}',
            *r['member_classes'],
            *[f'{r["uncertainty"][name]:.4f}' for name in SCORES],
            *r['flagged']
        ]

    with open(out_json) as file:
        assert json.load(file) == records
    with open(out_csv, newline='') as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 6
    for row, r in zip(rows, records):
        assert row['file'] == r['file']
        assert row['pred_class'] == r['pred_class']
        assert int(row['pred_label']) == r['pred_label']
        assert float(row['pred_score']) == r['pred_score']
        assert row['member_classes'] == ' '.join(r['member_classes'])
        assert row['member_labels'] == ' '.join(map(str, r['member_labels']))
        assert {name: float(row[name])
                for name in SCORES} == r['uncertainty']
        assert row['flagged'] == ' '.join(r['flagged'])


def test_single_network(tool, tiny, capsys):
    file = tiny['loose'][0]
    (want, ) = _expected(tiny, 'vanilla', [file])
    capsys.readouterr()
    records = tool.main([
        tiny['vanilla']['config'], tiny['vanilla']['checkpoint'], file,
        '--flag', 'max_prob=2'
    ])
    assert len(records) == 1
    assert set(records[0]) == {
        'file', 'pred_label', 'pred_score', 'pred_class', 'uncertainty',
        'flagged'
    }
    assert records[0]['pred_class'] == want['pred_class'] and \
        records[0]['flagged'] == []
    captured = capsys.readouterr()
    assert '1/1' not in captured.err  # no progress bar for one image
    lines = captured.out.strip().split('\n')
    assert lines[0].split() == ['file', 'class', 'prob', 'max_prob',
                                'entropy', 'flag']
    assert len(lines) == 3 and lines[2] == 'flagged: 0 of 1'
    with pytest.raises(SystemExit, match='--flag disagreement: the model '
                       'gives no disagreement'):
        tool.main([
            tiny['vanilla']['config'], tiny['vanilla']['checkpoint'], file,
            '--flag', 'disagreement=0.5'
        ])


def test_errors_name_the_argument(tool, tiny, capsys):
    config, ckpt = tiny['mixmo']['config'], tiny['mixmo']['checkpoint']
    empty = osp.join(tiny['root'], 'empty')
    os.makedirs(empty, exist_ok=True)
    bad_list = osp.join(tiny['root'], 'bad.txt')
    with open(bad_list, 'w') as file:
        file.write('x.png\nmissing.png\n')
    cases = [
        ([config, tiny['loose'][0]], 'CHECKPOINT and INPUTS are required'),
        ([config, 'nope.pth', tiny['loose'][0]],
         'CHECKPOINT: no such file: nope.pth'),
        (['nope.onnx', tiny['loose'][0]], 'MODEL: no such file: nope.onnx'),
        ([config, ckpt, 'nowhere.png'],
         'INPUTS: no such file or folder: nowhere.png'),
        ([config, ckpt, empty], f'INPUTS: no image in the folder {empty}'),
        ([config, ckpt, bad_list], f'INPUTS: {bad_list} lists missing '
         f'files: {osp.join(tiny["root"], "missing.png")}'),
        ([config, ckpt, tiny['loose'][0], '--flag', 'entropy'],
         '--flag entropy: expected SCORE=THRESHOLD'),
        ([config, ckpt, tiny['loose'][0], '--flag', 'variance=1'],
         '--flag variance=1: expected SCORE=THRESHOLD'),
        ([config, ckpt, tiny['loose'][0], '--flag', 'entropy=high'],
         '--flag entropy=high: expected'),
        ([config, ckpt, tiny['loose'][0], '--batch-size', '0'],
         '--batch-size must be >= 1, got 0'),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit):
            tool.parse_args(argv)
        assert message in capsys.readouterr().err, argv


def test_onnx_gives_the_pytorch_predictions(tool, tiny, tmp_path, capsys):
    pytest.importorskip('onnx', reason='onnx is not installed '
                        '(pip install mmmixmo[onnx])')
    pytest.importorskip('onnxruntime', reason='onnxruntime is not installed '
                        '(pip install mmmixmo[onnx])')
    export = load_tool('deployment/export_mixmo.py')
    model = str(tmp_path / 'tiny.onnx')
    export.main([
        tiny['mixmo']['config'], tiny['mixmo']['checkpoint'], '--format',
        'onnx', '--heads', '--out', model
    ])
    # one image of another size: resized to the export's 32 x 32
    big = write_images(str(tmp_path), ['big.png'], size=(48, 40))[0]
    small = str(tmp_path / 'small.png')
    mmcv.imwrite(mmcv.imresize(mmcv.imread(big), (32, 32)), small)
    capsys.readouterr()
    records = tool.main([model, tiny['tree'], tiny['listing'], big,
                         '--batch-size', '3'])
    files = tiny['tree_sorted'] + [tiny['loose'][1], tiny['loose'][0], small]
    want = _expected(tiny, 'mixmo', files)
    assert [r['file'] for r in records] == files[:-1] + [big]
    for record, result in zip(records, want):
        for key in ('pred_label', 'pred_class', 'member_labels',
                    'member_classes'):
            assert record[key] == result[key]
        assert record['pred_score'] == pytest.approx(result['pred_score'],
                                                     abs=1e-5)
        assert record['uncertainty'] == pytest.approx(
            result['uncertainty'], abs=1e-5)
    assert capsys.readouterr().out.split('\n')[0].split() == [
        'file', 'class', 'prob', 'members', *SCORES, 'flag'
    ]
    assert records[0]['pred_class'] in CLASSES
