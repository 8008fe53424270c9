"""tools/predict.py on a tiny MixMo: table, JSON, CSV, flags, inputs, ONNX,
and the refusals and failures that must not give a silent wrong result."""
import csv
import json
import os
import os.path as osp
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch

from mmmixmo.apis import (OnnxClassifier, UncertaintyInferencer,
                          predict_files)
from tests.conftest import REPO_ROOT
from tests.test_apis.test_uncertainty_inferencer import (CLASSES,
                                                         make_tiny_model,
                                                         write_calibrated,
                                                         write_images)
from tests.utils.tools import load_tool

SCORES = ['max_prob', 'entropy', 'mutual_information', 'disagreement',
          'energy', 'max_logit']


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
        assert row['pred_set'] == row['pred_set_classes'] == ''  # no sets


@pytest.fixture(scope='module')
def conformal(tiny):
    """The tiny MixMo with T = 1.7 and LAC sets: a threshold near the
    median of each image's smallest score, so some sets are empty, others
    of one class or more."""
    files = tiny['tree_sorted'] + tiny['loose']
    inferencer = UncertaintyInferencer(
        tiny['mixmo']['config'], pretrained=tiny['mixmo']['checkpoint'],
        device='cpu')
    samples = inferencer(files, return_datasamples=True)
    logits = torch.stack([s.ensemble_logits for s in samples])
    scores = 1 - torch.softmax(logits / 1.7, dim=1)
    pooled = scores.flatten().sort().values
    i = int((pooled - scores.min(1).values.median()).abs().argmin())
    calibration = dict(temperature=1.7, conformal=dict(
        score='lac', alpha=0.1, threshold=float(pooled[i:i + 2].mean())))
    config = write_calibrated(tiny['mixmo']['config'], calibration,
                              'tiny_lac')
    return dict(config=config, files=files,
                sizes=(scores <= calibration['conformal']['threshold']
                       ).sum(1).tolist())


@pytest.mark.parametrize('path', ['pytorch', 'onnx'])
def test_sets_in_the_table_json_and_csv(tool, tiny, conformal, tmp_path,
                                        capsys, path):
    assert min(conformal['sizes']) == 0 and max(conformal['sizes']) >= 1
    model = [conformal['config'], tiny['mixmo']['checkpoint']]
    if path == 'onnx':
        pytest.importorskip('onnxruntime', reason='the onnx extra is absent')
        out = str(tmp_path / 'lac.onnx')
        load_tool('deployment/export_mixmo.py').main(
            model + ['--format', 'onnx', '--heads', '--out', out])
        model = [out]
    want = UncertaintyInferencer(
        conformal['config'], pretrained=tiny['mixmo']['checkpoint'],
        device='cpu')(conformal['files'], batch_size=6)
    out_json, out_csv = str(tmp_path / 'p.json'), str(tmp_path / 'p.csv')
    capsys.readouterr()
    records = tool.main(model + conformal['files'] + [
        '--out-json', out_json, '--out-csv', out_csv, '--flag',
        'energy=-100'
    ])
    assert [len(r['pred_set']) for r in records] == conformal['sizes']
    for record, result in zip(records, want):
        assert record['pred_set'] == result['pred_set']
        assert record['pred_set_classes'] == [
            CLASSES[k] for k in result['pred_set']
        ]
        assert record['uncertainty']['energy'] == pytest.approx(
            result['uncertainty']['energy'], abs=1e-4)
        assert record['flagged'] == ['energy']  # energies are above -100

    lines = capsys.readouterr().out.strip().split('\n')
    assert lines[0].split() == ['file', 'class', 'prob', 'set', 'members',
                                *SCORES, 'flag']
    for line, r in zip(lines[1:7], records):
        assert line.split()[3] == ('|'.join(r['pred_set_classes']) or '-')
    with open(out_json) as file:
        assert json.load(file) == records
    with open(out_csv, newline='') as file:
        rows = list(csv.DictReader(file))
    for row, r in zip(rows, records):
        assert row['pred_set'] == '|'.join(map(str, r['pred_set']))
        assert row['pred_set_classes'] == '|'.join(r['pred_set_classes'])
        assert float(row['energy']) == r['uncertainty']['energy']
        assert float(row['max_logit']) == r['uncertainty']['max_logit']


def test_single_network(tool, tiny, capsys, monkeypatch):
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
    # a VanillaClassifier: the energy of its logits, no members
    assert lines[0].split() == ['file', 'class', 'prob', 'max_prob',
                                'entropy', 'energy', 'max_logit', 'flag']
    assert len(lines) == 3 and lines[2] == 'flagged: 0 of 1'
    # said after the first batch, not after every image
    predicted = []
    monkeypatch.setattr(
        tool, 'predict_files',
        lambda *args: predicted.append(1) or predict_files(*args))
    with pytest.raises(SystemExit, match='--flag disagreement: the model '
                       'gives no disagreement'):
        tool.main([
            tiny['vanilla']['config'], tiny['vanilla']['checkpoint'], file,
            file, '--flag', 'disagreement=0.5', '--batch-size', '1'
        ])
    assert predicted == [1]


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
        (['m.onnx', tiny['loose'][0], '--partial-load'],
         '--partial-load is for a config and checkpoint, not an .onnx'),
    ]
    for argv, message in cases:
        with pytest.raises(SystemExit):
            tool.parse_args(argv)
        assert message in capsys.readouterr().err, argv


@pytest.fixture(scope='module')
def onnx_file(tiny, tmp_path_factory):
    """The tiny MixMo exported with its heads."""
    pytest.importorskip('onnx', reason='onnx is not installed '
                        '(pip install mmmixmo[onnx])')
    pytest.importorskip('onnxruntime', reason='onnxruntime is not installed '
                        '(pip install mmmixmo[onnx])')
    model = str(tmp_path_factory.mktemp('onnx') / 'tiny.onnx')
    load_tool('deployment/export_mixmo.py').main([
        tiny['mixmo']['config'], tiny['mixmo']['checkpoint'], '--format',
        'onnx', '--heads', '--out', model
    ])
    return model


@pytest.fixture(scope='module')
def varied(tiny):
    """Images of the model's size and larger, colour and grey, PNG and
    JPEG, and tinted: every channel differs."""
    folder = osp.join(tiny['root'], 'varied')
    os.makedirs(folder)
    paths = (write_images(folder, ['s32.png', 's32.jpg']) +
             write_images(folder, ['s64.png', 's64.jpg'], size=(64, 64),
                          seed=2) +
             write_images(folder, ['s100x80.png'], size=(100, 80), seed=3))
    grey = osp.join(folder, 'grey.png')
    assert mmcv.imwrite(mmcv.imread(paths[2], flag='grayscale'), grey)
    tinted = osp.join(folder, 'tinted.png')
    assert mmcv.imwrite(
        (mmcv.imread(grey).astype(np.float32) *
         np.array([0.3, 0.7, 1.0])).astype(np.uint8), tinted)
    return paths + [grey, tinted]


def test_onnx_gives_the_pytorch_predictions(tool, tiny, onnx_file, varied):
    """Both paths bring every image to 32x32 RGB the same way, and agree."""
    inferencer = UncertaintyInferencer(
        tiny['mixmo']['config'], pretrained=tiny['mixmo']['checkpoint'],
        device='cpu')
    classifier = OnnxClassifier(onnx_file)
    assert (classifier.channel_order, classifier.input_size) == \
        ('rgb', (32, 32))
    images = [classifier.pipeline(path) for path in varied]
    for image, path in zip(images, varied):
        np.testing.assert_array_equal(image, inferencer.pipeline(path))
        want = mmcv.imresize(mmcv.imread(path, channel_order='rgb'),
                             (32, 32)).transpose(2, 0, 1)
        np.testing.assert_array_equal(image, want)
    outputs = classifier(np.stack(images))
    with torch.no_grad():
        samples = tiny['mixmo']['model'].test_step(
            dict(inputs=torch.from_numpy(np.stack(images))))
    np.testing.assert_allclose(
        outputs['scores'], torch.stack([s.pred_score for s in samples]),
        atol=1e-4)
    np.testing.assert_allclose(
        outputs['member_logits'],
        torch.stack([s.member_logits for s in samples]), atol=1e-4)

    # the tool, one batch of mixed sizes, on both paths
    records = {
        name: tool.main(argv + varied)
        for name, argv in (('onnx', [onnx_file]),
                           ('pytorch', [tiny['mixmo']['config'],
                                        tiny['mixmo']['checkpoint']]))
    }
    assert [r['file'] for r in records['onnx']] == varied
    for got, want in zip(records['onnx'], records['pytorch']):
        for key in ('file', 'pred_label', 'pred_class', 'member_labels',
                    'member_classes'):
            assert got[key] == want[key]
        assert got['pred_score'] == pytest.approx(want['pred_score'],
                                                  abs=1e-4)
        assert got['uncertainty'] == pytest.approx(want['uncertainty'],
                                                   abs=1e-4)
    labels = [int(s.pred_score.argmax()) for s in samples]
    assert [r['pred_label'] for r in records['onnx']] == labels


def _bad_files(folder):
    """A zero-byte .jpg, a text file named .jpg, a truncated JPEG."""
    os.makedirs(folder, exist_ok=True)
    good = write_images(folder, ['good0.png', 'good1.jpg', 'good2.png'])
    bad = [osp.join(folder, name)
           for name in ('empty.jpg', 'text.jpg', 'truncated.jpg')]
    open(bad[0], 'wb').close()
    with open(bad[1], 'w') as file:
        file.write('not an image\n')
    with open(good[1], 'rb') as file:
        content = file.read()
    with open(bad[2], 'wb') as file:
        file.write(content[:len(content) // 2])
    return good, bad


@pytest.mark.parametrize('path', ['pytorch', 'onnx'])
def test_a_bad_file_costs_only_itself(tool, tiny, onnx_file, tmp_path,
                                      capsys, path):
    good, bad = _bad_files(str(tmp_path / 'images'))
    model = ([onnx_file] if path == 'onnx' else
             [tiny['mixmo']['config'], tiny['mixmo']['checkpoint']])
    out_json = str(tmp_path / 'preds.json')
    want = _expected(tiny, 'mixmo', good)
    capsys.readouterr()
    with pytest.raises(SystemExit) as error:
        tool.main(model + [bad[0], good[0], bad[1], good[1], bad[2],
                           good[2], '--out-json', out_json,
                           '--batch-size', '4'])
    assert error.value.code == tool.EXIT_UNREADABLE == 3
    with open(out_json) as file:
        records = json.load(file)
    assert [r['file'] for r in records] == good
    for record, result in zip(records, want):
        assert record['pred_class'] == result['pred_class']
        assert record['pred_score'] == pytest.approx(result['pred_score'],
                                                     abs=1e-4)
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()[1:]] == \
        good
    assert captured.err.splitlines()[-4:] == [
        f"not predicted: {b}: cannot decode the image file '{b}': empty, "
        'truncated or not an image' for b in bad
    ] + ['3 of 6 files could not be read (exit code 3)']


def test_exit_code_of_the_script(tiny, tmp_path):
    """As a script: exit code 3, the failure on stderr, the rest written."""
    good, bad = _bad_files(str(tmp_path / 'images'))
    out_json = str(tmp_path / 'preds.json')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    run = subprocess.run([
        sys.executable, osp.join(REPO_ROOT, 'tools', 'predict.py'),
        tiny['mixmo']['config'], tiny['mixmo']['checkpoint'], bad[0],
        good[0], '--out-json', out_json
    ], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 3, run.stderr
    assert f'not predicted: {bad[0]}: cannot decode' in run.stderr
    assert run.stdout.splitlines()[1].split()[0] == good[0]
    with open(out_json) as file:
        assert [r['file'] for r in json.load(file)] == [good[0]]


def test_refuses_a_checkpoint_of_another_config(tool, tiny):
    mixmo, vanilla = tiny['mixmo'], tiny['vanilla']
    argv = [mixmo['config'], vanilla['checkpoint'], tiny['loose'][0]]
    with pytest.raises(SystemExit) as error:
        tool.main(argv)
    message = error.value.code  # a message: exit code 1
    assert message.startswith(
        f"checkpoint {vanilla['checkpoint']!r} into the model of "
        f"{mixmo['config']!r}: the weights are a single network's "
        '(backbone.conv1.weight, no member encoders)')
    assert message.endswith('(tools/predict.py: --partial-load) loads only '
                            'the keys that fit')
    # asked for
    (record, ) = tool.main(argv + ['--partial-load'])
    assert record['pred_class'] in CLASSES


def test_refuses_an_onnx_file_not_of_the_export(tool, tiny, tmp_path):
    pytest.importorskip('onnxruntime', reason='onnxruntime is not installed')
    from tests.test_apis.test_onnx_classifier import write_model
    weight = np.ones((12, 6), np.float32)
    model = str(tmp_path / 'other.onnx')
    write_model(model, weight, metadata={})
    with pytest.raises(SystemExit) as error:
        tool.main([model, tiny['loose'][0]])
    assert error.value.code.startswith(
        f"{model} is not a file of mmmixmo's ONNX export (no producer=mmmixmo"
        ' metadata; missing metadata: classes, input_size, channel_order, '
        'transforms)')
    assert error.value.code.endswith(
        'write one with python tools/deployment/export_mixmo.py CONFIG '
        'CHECKPOINT --format onnx --heads --out MODEL.onnx')


def test_flag_says_what_a_missing_score_needs(tool):
    record = dict(uncertainty=dict(max_prob=0.1, entropy=0.2))
    assert tool.flag(record, dict(max_prob=0.05, entropy=0.3)) == \
        ['max_prob']
    for name, needs in (('energy', 'its logits'),
                        ('disagreement', 'M >= 2 members')):
        with pytest.raises(SystemExit, match=f'^--flag {name}: the model '
                           f'gives no {name} \\(it needs {needs}'):
            tool.flag(record, {name: 1.0})
