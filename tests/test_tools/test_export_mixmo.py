"""tools/deployment/export_mixmo.py on a tiny MixMo checkpoint.

The model of tests/data/configs/tiny_cifar10.py (Cut-MixMo WRN-10-1, M = 2,
K = 10, CIFAR-10 normalisation) with random BN statistics and heads.
"""
import math
import os
import os.path as osp
import subprocess
import sys
import warnings

import mmcv
import mmengine
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmpretrain import ImageClassificationInferencer, get_model
from mmpretrain.models import ImageClassifier
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmmixmo  # noqa: F401
from mmmixmo.apis import UncertaintyInferencer
from mmmixmo.apis import export as export_api
from mmmixmo.evaluation.functional.conformal import conformal_scores
from mmmixmo.models.utils import PostHocCalibration
from tests.conftest import REPO_ROOT
from tests.test_apis.test_uncertainty_inferencer import (make_tiny_model,
                                                         write_calibrated,
                                                         write_images)
from tests.utils.models import randomize_weights
from tests.utils.tools import load_tool

CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_cifar10.py')
TOOLS = osp.join(REPO_ROOT, 'tools')
# WRN-10-1 with Linear(64, 10); MixMo adds a 3x3 conv 3 -> 16 and a
# Linear(64, 10).
VANILLA_PARAMS = 77_850
MIXMO_PARAMS = VANILLA_PARAMS + 432 + 650
CLASSES = [f'class{i}' for i in range(10)]


@pytest.fixture(scope='module')
def tool():
    return load_tool('deployment/export_mixmo.py')


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A tiny MixMo with non-trivial BN statistics, and its checkpoint."""
    torch.manual_seed(0)
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(CONFIG).model)
    randomize_weights(model, linear_std=0.5)
    path = str(tmp_path_factory.mktemp('export') / 'epoch_1.pth')
    meta = dict(dataset_meta=dict(classes=CLASSES))
    save_checkpoint(dict(meta=meta, state_dict=model.state_dict()), path)
    return dict(path=path, model=model.eval())


def mixmo_outputs(model, raw, logits=False):
    with torch.no_grad():
        samples = model.test_step(dict(inputs=raw))
    return torch.stack([
        s.member_logits.mean(0) if logits else s.pred_score for s in samples
    ])


@pytest.mark.parametrize('fmt,with_preprocess,logits', [
    ('torchscript', False, False),
    ('torchscript', True, False),
    ('torchscript', False, True),
    ('export', True, False),
    ('export', False, True),
])
def test_traced_round_trip(tool, checkpoint, tmp_path, capsys, fmt,
                           with_preprocess, logits):
    out = str(tmp_path / f'folded{tool.SUFFIXES[fmt]}')
    argv = [CONFIG, checkpoint['path'], '--out', out, '--format', fmt]
    argv += ['--with-preprocess'] * with_preprocess + ['--logits'] * logits
    result = tool.main(argv)
    assert result['max_abs_diff'] <= 1e-5
    assert (result['params_mixmo'], result['params_folded']) == \
        (MIXMO_PARAMS, VANILLA_PARAMS)
    printed = capsys.readouterr().out
    assert f'wrote {out}\nmax abs diff to the MixMo model: ' \
        f'{result["max_abs_diff"]:.3g} (atol 1e-05, 4 images 32x32)\n' \
        f'parameters: MixMo {MIXMO_PARAMS:,}, folded {VANILLA_PARAMS:,}' \
        in printed

    # Reload the file: another batch and image size than the example's.
    model = checkpoint['model']
    raw = torch.randint(0, 256, (3, 3, 40, 24), dtype=torch.uint8)
    want = mixmo_outputs(model, raw, logits)
    assert want.shape == (3, 10)
    if not logits:
        assert want.max(1).values.min() > 0.15  # not a uniform prediction
    inputs = raw.float() if with_preprocess else model.data_preprocessor(
        dict(inputs=raw))['inputs']
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)
        exported = (torch.jit.load(out) if fmt == 'torchscript' else
                    torch.export.load(out).module())
    with torch.no_grad():
        assert (exported(inputs) - want).abs().max() <= 1e-5
        if fmt == 'torchscript' and with_preprocess:  # casts raw uint8
            assert (exported(raw) - want).abs().max() <= 1e-5


@pytest.fixture(scope='module')
def folded(tool, checkpoint, tmp_path_factory):
    """The checkpoint written as an mmpretrain config and checkpoint."""
    root = str(tmp_path_factory.mktemp('folded') / 'tiny_folded')
    result = tool.main([CONFIG, checkpoint['path'], '--out', root + '.pth',
                        '--format', 'mmpretrain'])
    assert result['max_abs_diff'] <= 1e-5
    assert result['params_folded'] == VANILLA_PARAMS
    return root


def test_mmpretrain_config_and_checkpoint(folded, checkpoint):
    cfg = Config.fromfile(folded + '.py')
    assert cfg.model == dict(
        type='ImageClassifier',
        backbone=dict(type='WideResNet', depth=10, widen_factor=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=10, in_channels=64),
        data_preprocessor=dict(
            type='ClsDataPreprocessor',
            num_classes=10,
            mean=[125.307, 122.961, 113.8575],
            std=[51.5865, 50.847, 51.255],
            to_rgb=False))
    assert Config.fromfile(CONFIG).custom_hooks[0].type == 'MixingProbHook'
    assert cfg.custom_hooks == []
    assert [t.type for t in cfg.train_dataloader.dataset.pipeline] == [
        'RandomCrop', 'RandomFlip', 'PackInputs'
    ]
    assert cfg.test_evaluator == Config.fromfile(CONFIG).test_evaluator

    model = get_model(folded + '.py', pretrained=folded + '.pth')
    assert type(model) is ImageClassifier
    assert sum(p.numel() for p in model.parameters()) == VANILLA_PARAMS
    assert model._dataset_meta['classes'] == CLASSES
    # the channel order of the training images, resolved from the config
    meta = torch.load(folded + '.pth', weights_only=False)['meta']
    assert meta == dict(dataset_meta=dict(classes=CLASSES),
                        channel_order='rgb')

    # mmpretrain's inferencer: HWC images through the config's pipeline.
    images = torch.randint(0, 256, (5, 32, 32, 3), dtype=torch.uint8)
    inferencer = ImageClassificationInferencer(
        folded + '.py', pretrained=folded + '.pth', device='cpu')
    results = inferencer(list(images.numpy()), batch_size=5)
    want = mixmo_outputs(checkpoint['model'], images.permute(0, 3, 1, 2))
    got = torch.stack([torch.as_tensor(r['pred_scores']) for r in results])
    assert want.max(1).values.min() > 0.15
    assert (got - want).abs().max() <= 1e-5
    assert [r['pred_class'] for r in results] == [
        CLASSES[i] for i in want.argmax(1)
    ]
    # ours loads the folded checkpoint into the folded config strictly
    results = UncertaintyInferencer(
        folded + '.py', pretrained=folded + '.pth',
        device='cpu')(list(images.numpy()), batch_size=5)
    assert (torch.stack([torch.as_tensor(r['pred_scores'])
                         for r in results]) - want).abs().max() <= 1e-5


def test_tools_test_gives_the_mixmo_metrics(folded, checkpoint, tmp_path,
                                            fake_cifar10_root):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('PYTHONPATH', None)
    metrics = {}
    for name, config, ckpt in (('mixmo', CONFIG, checkpoint['path']),
                               ('folded', folded + '.py', folded + '.pth')):
        out = str(tmp_path / f'{name}.pkl')
        subprocess.run([
            sys.executable,
            osp.join(TOOLS, 'test.py'), config, ckpt, '--work-dir',
            str(tmp_path / name), '--out', out, '--out-item', 'metrics',
            '--cfg-options',
            f'test_dataloader.dataset.data_root={fake_cifar10_root}'
        ], cwd=str(tmp_path), env=env, check=True, timeout=300)
        metrics[name] = mmengine.load(out)
    # The folded network has no heads to compare: no diversity keys.
    shared = {
        key: value
        for key, value in metrics['mixmo'].items()
        if not key.startswith('diversity/')
    }
    assert 'accuracy/top1' in shared and 'calibration/ece' in shared
    assert metrics['folded'] == pytest.approx(shared, abs=1e-5)


def test_errors(tool, checkpoint, tmp_path, monkeypatch):
    vanilla = osp.join(REPO_ROOT, 'configs', 'quickstart',
                       'vanilla_wrn16-1_1xb64_digits.py')
    with pytest.raises(SystemExit, match="model.type='VanillaClassifier'"):
        tool.main([vanilla, checkpoint['path']])
    with pytest.raises(SystemExit):
        tool.parse_args([CONFIG, 'a.pth', '--format', 'mmpretrain',
                         '--logits'])
    # A wrong fold (a head sum, not a mean) fails the check.
    fold = export_api.fold_mixmo

    def bad_fold(model_cfg, state_dict, **kwargs):
        folded_cfg, weights = fold(model_cfg, state_dict, **kwargs)
        weights['head.fc.weight'] = weights['head.fc.weight'] * 2
        return folded_cfg, weights

    # The probability average needs the heads.
    probs = ['--cfg-options', 'model.head.average=probs']
    with pytest.raises(SystemExit, match="average='probs'.*--heads"):
        tool.main([CONFIG, checkpoint['path'], '--out',
                   str(tmp_path / 'probs.pt')] + probs)
    with pytest.raises(SystemExit):  # onnx outputs the probabilities
        tool.parse_args([CONFIG, 'a.pth', '--format', 'onnx', '--logits'])
    monkeypatch.setattr(export_api, 'fold_mixmo', bad_fold)
    with pytest.raises(SystemExit, match='differs from the MixMo model'):
        tool.main([CONFIG, checkpoint['path'], '--out',
                   str(tmp_path / 'bad.pt')])
    with pytest.raises(SystemExit, match='differs from the MixMo model'):
        tool.main([CONFIG, checkpoint['path'], '--out',
                   str(tmp_path / 'bad.pt'), '--heads'])


def test_default_out(tool):
    args = tool.parse_args([CONFIG, 'work/epoch_3.pth'])
    # img_size: None until main reads the config's test pipeline
    assert (args.out, args.format, args.atol, args.img_size) == \
        ('work/epoch_3_folded.pt', 'torchscript', 1e-5, None)
    assert not args.with_preprocess and not args.logits
    assert not args.heads
    for fmt, out in (('export', 'work/epoch_3_folded.pt2'),
                     ('mmpretrain', 'work/epoch_3_folded'),
                     ('onnx', 'work/epoch_3_folded.onnx')):
        args = tool.parse_args([CONFIG, 'work/epoch_3.pth', '--format', fmt])
        assert args.out == out


def test_heads_round_trip(tool, checkpoint, tmp_path, capsys):
    """torchscript and mmpretrain with the M heads kept."""
    model = checkpoint['model']
    raw = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        samples = model.test_step(dict(inputs=raw))
    scores = torch.stack([s.pred_score for s in samples])
    heads = torch.stack([s.member_logits for s in samples])
    assert (heads[:, 0] - heads[:, 1]).abs().max() > 0.5  # heads disagree

    out = str(tmp_path / 'heads.pt')
    result = tool.main([CONFIG, checkpoint['path'], '--out', out, '--heads',
                        '--with-preprocess'])
    assert result['max_abs_diff'] <= 1e-5
    assert result['params_folded'] == VANILLA_PARAMS + 650
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', FutureWarning)
        got_scores, got_heads = torch.jit.load(out)(raw.float())
    assert (got_scores - scores).abs().max() <= 1e-5
    assert (got_heads - heads).abs().max() <= 1e-5

    root = str(tmp_path / 'heads_mm')
    result = tool.main([CONFIG, checkpoint['path'], '--out', root,
                        '--format', 'mmpretrain', '--heads'])
    assert result['max_abs_diff'] <= 1e-5
    head = Config.fromfile(root + '.py').model.head
    assert head == dict(Config.fromfile(CONFIG).model.head, num_members=2)
    assert head.type == 'MultiHeadClsHead' and head.num_classes == 10
    folded = get_model(root + '.py', pretrained=root + '.pth')
    with torch.no_grad():
        got = folded.test_step(dict(inputs=raw))
    assert (torch.stack([s.member_logits for s in got]) -
            heads).abs().max() <= 1e-6


@pytest.mark.parametrize('heads,average', [(True, 'logits'),
                                           (True, 'probs'),
                                           (False, 'logits')])
def test_onnx(tool, checkpoint, tmp_path, capsys, heads, average):
    ort = pytest.importorskip(
        'onnxruntime', reason='the onnx extra (pip install mmmixmo[onnx]) '
        'is not installed')
    onnx = pytest.importorskip('onnx', reason='the onnx extra is not '
                               'installed')
    from mmmixmo.apis import OnnxClassifier
    out = str(tmp_path / 'model.onnx')
    argv = [CONFIG, checkpoint['path'], '--out', out, '--format', 'onnx',
            '--cfg-options', f'model.head.average={average}']
    result = tool.main(argv + ['--heads'] * heads)
    assert result['max_abs_diff'] <= 1e-5
    assert result['params_folded'] == VANILLA_PARAMS + 650 * heads
    assert f'wrote {out}\nmax abs diff' in capsys.readouterr().out

    proto = onnx.load(out)
    # CIFAR-10's arrays: RGB; its test pipeline sets no size: a resize
    assert {p.key: p.value for p in proto.metadata_props} == dict(
        classes='["class0", "class1", "class2", "class3", "class4", '
        '"class5", "class6", "class7", "class8", "class9"]',
        input_size='[32, 32]', channel_order='rgb',
        transforms='[{"type": "Resize", "scale": [32, 32]}]',
        average=average, calibration='null', producer='mmmixmo')
    assert min(o.version for o in proto.opset_import if o.domain == '') >= 17
    assert [i.name for i in proto.graph.input] == ['inputs']
    assert [o.name for o in proto.graph.output] == \
        ['scores'] + ['member_logits'] * heads + ['logits']

    # A batch of another size than the export's and the check's (5, 4).
    model = MODELS.build(_with_average(average)).eval()
    model.load_state_dict(checkpoint['model'].state_dict())
    raw = torch.randint(0, 256, (7, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        samples = model.test_step(dict(inputs=raw))
    scores = torch.stack([s.pred_score for s in samples])
    member_logits = torch.stack([s.member_logits for s in samples])
    assert scores.max(1).values.min() > 0.15
    session = ort.InferenceSession(out, providers=['CPUExecutionProvider'])
    got = session.run(None, {'inputs': raw.float().numpy()})
    assert len(got) == 2 + heads
    assert (torch.from_numpy(got[0]) - scores).abs().max() <= 1e-5
    if heads:
        assert (torch.from_numpy(got[1]) - member_logits).abs().max() <= 1e-5
    # the logits of the energy: the mean member logits
    assert (torch.from_numpy(got[-1]) -
            member_logits.mean(1)).abs().max() <= 1e-5

    classifier = OnnxClassifier(out)
    assert (classifier.classes, classifier.input_size,
            classifier.channel_order, classifier.average,
            classifier.num_members) == (CLASSES, (32, 32), 'rgb', average,
                                        2 if heads else None)
    outputs = classifier(raw.numpy())  # uint8 is cast
    assert sorted(outputs) == \
        ['logits'] + ['member_logits'] * heads + ['scores']
    assert outputs['scores'].shape == (7, 10)
    assert (torch.from_numpy(outputs['scores']) - scores).abs().max() <= 1e-5


def _with_average(average):
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(CONFIG)
    cfg.model.head.average = average
    return cfg.model


def test_classes_from_the_checkpoint_else_the_config():
    cfg = Config.fromfile(CONFIG)
    meta = dict(dataset_meta=dict(classes=('a', 'b')))
    assert export_api.dataset_classes(cfg, meta) == ['a', 'b']
    classes = export_api.dataset_classes(cfg, None)  # LocalCIFAR10's
    assert classes[:3] == ['airplane', 'automobile', 'bird']
    assert len(classes) == 10
    cfg.test_dataloader.dataset.metainfo = dict(classes=['x'])
    assert export_api.dataset_classes(cfg, {}) == ['x']
    cfg.test_dataloader = None
    assert export_api.dataset_classes(cfg, {}) is None


def test_refuses_a_checkpoint_that_does_not_fit(tool, checkpoint, tmp_path):
    """Always strict: a partially loaded network is never deployed."""
    state = checkpoint['model'].state_dict()
    state['head.extra'] = state.pop('head.fc.bias')
    path = str(tmp_path / 'other.pth')
    save_checkpoint(dict(meta={}, state_dict=state), path)
    for fmt in ('torchscript', 'onnx', 'mmpretrain'):
        out = str(tmp_path / f'never.{fmt}')
        with pytest.raises(SystemExit) as error:
            tool.main([CONFIG, path, '--format', fmt, '--out', out])
        assert error.value.code == (
            f'checkpoint {path!r} into the model of {CONFIG!r} does not fit: '
            '1 missing key (head.fc.bias), 1 unexpected key (head.extra). '
            'Use the config the checkpoint was trained with (and the same '
            '--cfg-options); export_mixmo.py loads strictly: a partially '
            'loaded network must never be deployed')
        assert not any(name.startswith('never') for name in
                       os.listdir(tmp_path))


def test_onnx_runs_the_test_pipeline(tool, checkpoint, tmp_path):
    """ImageNet-like: the test pipeline sets the size; the ONNX path runs it
    as the PyTorch path does, and the graph takes that size only."""
    pytest.importorskip('onnxruntime', reason='the onnx extra is absent')
    from mmmixmo.apis import OnnxClassifier
    config = str(tmp_path / 'crop.py')
    with open(config, 'w') as file:
        file.write(f'_base_ = [{CONFIG!r}]\ntest_dataloader = dict(dataset='
                   "dict(pipeline=[dict(type='ResizeEdge', scale=40), "
                   "dict(type='CenterCrop', crop_size=32), "
                   "dict(type='PackInputs')]))\n")
    out = str(tmp_path / 'model.onnx')
    with pytest.raises(SystemExit, match=r'--img-size 40: test_dataloader.'
                       r'dataset.pipeline brings the images to 32x32 \(H x W'
                       r'\), not 40x40'):
        tool.main([config, checkpoint['path'], '--format', 'onnx',
                   '--img-size', '40', '--out', out])
    tool.main([config, checkpoint['path'], '--format', 'onnx', '--heads',
               '--out', out])
    classifier = OnnxClassifier(out)
    assert classifier.pipeline.transforms.transforms[0].scale == 40
    image = str(tmp_path / 'image.png')
    rgb = torch.randint(0, 256, (80, 100, 3), dtype=torch.uint8).numpy()
    assert mmcv.imwrite(rgb, image)
    inferencer = UncertaintyInferencer(config, pretrained=checkpoint['path'],
                                       device='cpu')
    pixels = classifier.pipeline(image)
    assert pixels.shape == (3, 32, 32)
    np.testing.assert_array_equal(pixels, inferencer.pipeline(image))
    (want, ) = inferencer([image])
    (got, ) = classifier.predict_arrays(pixels[None])
    assert got['pred_score'] == pytest.approx(want['pred_score'], abs=1e-5)
    assert got['member_labels'] == want['member_labels']


@pytest.fixture(scope='module')
def digits(tmp_path_factory):
    """The tiny quickstart MixMo, 8 images and its mean head logits on
    them (as the PyTorch and the ONNX paths bring them to the model)."""
    root = str(tmp_path_factory.mktemp('calibrated'))
    tiny = make_tiny_model(root)
    images = write_images(root, [f'img{i}.png' for i in range(8)])
    inferencer = UncertaintyInferencer(tiny['config'],
                                       pretrained=tiny['checkpoint'],
                                       device='cpu')
    samples = inferencer(images, return_datasamples=True)
    mean = torch.stack([s.member_logits for s in samples]).double().mean(1)
    arrays = np.stack([inferencer.pipeline(p) for p in images])
    return dict(tiny, root=root, images=images, arrays=arrays, mean=mean)


def varied_threshold(scores):
    """A threshold between two conformal scores ``(N, K)``, far from all
    (no set entry within float error of it), near the median of the third
    smallest score of each image: sets of 2 or 3 classes."""
    pooled = scores.flatten().sort().values
    target = scores.sort(1).values[:, 2].median()
    i = int((pooled - target).abs().argmin())
    return float((pooled[i] + pooled[i + 1]) / 2)


def calibrated(digits, score, heads):
    """A config of the digits MixMo with T = 1.7 and ``score``'s sets, and
    those sets of its images."""
    probs = F.softmax(digits['mean'] / 1.7, dim=1)
    k_reg, lam = (1, 0.05) if score == 'raps' else (0, 0.0)
    scores = conformal_scores(probs, score, k_reg, lam)
    threshold = varied_threshold(scores)
    conformal = dict(score=score, alpha=0.1, threshold=threshold,
                     num_samples=500)
    if score == 'raps':
        conformal.update(k_reg=k_reg, lam=lam)
    calibration = dict(temperature=1.7, conformal=conformal)
    config = write_calibrated(digits['config'], calibration,
                              f'tiny_{score}_{int(heads)}')
    return config, calibration, scores <= threshold


@pytest.mark.parametrize('score,heads', [('lac', False), ('aps', True),
                                         ('raps', True)])
def test_onnx_records_equal_the_calibrated_pytorch_records(
        tool, digits, tmp_path, capsys, score, heads):
    """The calibrated scores, sets and energy of the ONNX graph are the
    PyTorch model's, record for record."""
    pytest.importorskip('onnxruntime', reason='the onnx extra is absent')
    from mmmixmo.apis import OnnxClassifier
    config, calibration, sets = calibrated(digits, score, heads)
    sizes = sets.sum(1)
    assert len(set(sizes.tolist())) >= 2 and sizes.max() > 1
    out = str(tmp_path / f'{score}.onnx')
    result = tool.main([config, digits['checkpoint'], '--format', 'onnx',
                        '--out', out] + ['--heads'] * heads)
    assert (result['set_mismatches'], result['set_entries_skipped']) == (0, 0)
    assert 'sets: 0 of 40 entries differ (0 within --atol of the ' \
        'threshold not compared)' in capsys.readouterr().out

    classifier = OnnxClassifier(out)
    # the calibration as the model holds it: RAPS parameters for all
    assert classifier.calibration == dict(
        calibration, conformal=dict(dict(k_reg=0, lam=0.0),
                                    **calibration['conformal']))
    inferencer = UncertaintyInferencer(config,
                                       pretrained=digits['checkpoint'],
                                       device='cpu')
    arrays = np.stack([classifier.pipeline(p) for p in digits['images']])
    np.testing.assert_array_equal(
        arrays, np.stack([inferencer.pipeline(p) for p in digits['images']]))
    got = classifier.predict_arrays(arrays)
    want = inferencer.predict_arrays(arrays)
    probs = F.softmax(digits['mean'] / 1.7, dim=1)
    # the graph without the heads has no members
    members = set() if heads else {'member_labels', 'member_classes',
                                   'mutual_information', 'disagreement'}
    for i, (g, w) in enumerate(zip(got, want)):
        assert set(g) == set(w) - members
        order = probs[i].argsort(descending=True).tolist()
        assert g['pred_set'] == w['pred_set'] == \
            [k for k in order if sets[i, k]]
        assert g['pred_set_classes'] == w['pred_set_classes']
        for key in {'pred_label', 'pred_class', 'member_labels',
                    'member_classes'} - members:
            assert g[key] == w[key], key
        assert g['pred_score'] == pytest.approx(w['pred_score'], abs=1e-5)
        assert set(g['uncertainty']) == set(w['uncertainty']) - members
        assert {'energy', 'max_logit'} <= set(g['uncertainty'])
        for name, value in g['uncertainty'].items():
            tol = 1e-4 if name in ('energy', 'max_logit') else 1e-5
            assert value == pytest.approx(w['uncertainty'][name], abs=tol)
    # softmax(z / T) and the energy of the mean head logits / T
    scores = torch.from_numpy(classifier(arrays)['scores']).double()
    assert (scores - probs).abs().max() <= 1e-5
    energy = -torch.logsumexp(digits['mean'] / 1.7, dim=1)
    assert [w['uncertainty']['energy'] for w in want] == pytest.approx(
        energy.tolist(), abs=1e-5)


def test_calibrated_mmpretrain_and_torchscript(tool, digits, tmp_path):
    """The mmpretrain config and checkpoint predict the calibrated scores,
    sets and energy; TorchScript the calibrated scores and logits."""
    config, calibration, sets = calibrated(digits, 'aps', False)
    root = str(tmp_path / 'folded')
    result = tool.main([config, digits['checkpoint'], '--format',
                        'mmpretrain', '--out', root])
    assert (result['max_abs_diff'] <= 1e-5 and
            result['set_mismatches'] == result['set_entries_skipped'] == 0)
    model_cfg = Config.fromfile(root + '.py').model
    assert model_cfg.type == 'VanillaClassifier'
    assert model_cfg.calibration == calibration
    folded = UncertaintyInferencer(root + '.py', pretrained=root + '.pth',
                                   device='cpu')
    mixmo = UncertaintyInferencer(config, pretrained=digits['checkpoint'],
                                  device='cpu')
    probs = F.softmax(digits['mean'] / 1.7, dim=1)
    got = folded.predict_arrays(digits['arrays'])
    want = mixmo.predict_arrays(digits['arrays'])
    for i, (g, w) in enumerate(zip(got, want)):
        assert g['pred_set'] == w['pred_set'] == [
            k for k in probs[i].argsort(descending=True).tolist()
            if sets[i, k]
        ]
        assert g['pred_score'] == pytest.approx(w['pred_score'], abs=1e-5)
        for name in ('max_prob', 'entropy', 'energy', 'max_logit'):
            assert g['uncertainty'][name] == pytest.approx(
                w['uncertainty'][name], abs=1e-5), name

    raw = torch.from_numpy(digits['arrays']).float()
    for logits in (False, True):
        out = str(tmp_path / f'folded_{logits}.pt')
        tool.main([config, digits['checkpoint'], '--out', out,
                   '--with-preprocess'] + ['--logits'] * logits)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FutureWarning)
            with torch.no_grad():
                output = torch.jit.load(out)(raw).double()
        expected = digits['mean'] / 1.7 if logits else probs
        assert (output - expected).abs().max() <= 1e-5


def test_calibrated_mmpretrain_with_the_heads(tool, digits, tmp_path):
    """The M heads kept: a VanillaClassifier with a MultiHeadClsHead and
    the calibration, predicting the MixMo model's calibrated records."""
    config, calibration, _ = calibrated(digits, 'raps', True)
    root = str(tmp_path / 'heads')
    result = tool.main([config, digits['checkpoint'], '--format',
                        'mmpretrain', '--heads', '--out', root])
    assert result['set_mismatches'] == 0
    model_cfg = Config.fromfile(root + '.py').model
    assert (model_cfg.type, model_cfg.head.type, model_cfg.calibration) == \
        ('VanillaClassifier', 'MultiHeadClsHead', calibration)
    got, want = (
        UncertaintyInferencer(*paths, device='cpu').predict_arrays(
            digits['arrays'])
        for paths in ((root + '.py', root + '.pth'),
                      (config, digits['checkpoint'])))
    for g, w in zip(got, want):
        assert g['pred_set'] == w['pred_set']
        assert g['member_labels'] == w['member_labels']
        assert g['uncertainty'] == pytest.approx(w['uncertainty'], abs=1e-5)


def test_set_mismatches_by_hand():
    """Entries within the margin of the threshold are not compared."""
    calibration = PostHocCalibration(
        1.0, dict(score='lac', alpha=0.1, threshold=0.5))
    samples = calibration.calibrate_samples([
        DataSample(ensemble_logits=torch.tensor(logits, dtype=torch.float64))
        for logits in ([math.log(3), 0.0], [0.0, 0.0])
    ])
    # LAC scores 1 - p: (0.25, 0.75) and (0.5, 0.5), the second at 0.5
    assert [s.pred_set.tolist() for s in samples] == [[True, False],
                                                      [True, True]]
    got = torch.tensor([[True, True], [False, False]])
    assert export_api.set_mismatches(got, samples, calibration, 1e-5) == (1, 2)
    # both scores of the first sample are 0.25 from the threshold
    assert export_api.set_mismatches(
        got[:1], samples[:1], calibration, 0.2) == (1, 0)
    assert export_api.set_mismatches(
        got[:1], samples[:1], calibration, 0.3) == (0, 2)


def test_refuses_sets_that_differ(tool, digits, tmp_path, monkeypatch):
    pytest.importorskip('onnxruntime', reason='the onnx extra is absent')
    config, _, _ = calibrated(digits, 'lac', False)
    write = export_api.write_onnx

    def flipped(*args):
        classifier = write(*args)

        def run(images):
            outputs = classifier(images)
            return dict(outputs, sets=~outputs['sets'])

        return run

    monkeypatch.setattr(export_api, 'write_onnx', flipped)
    with pytest.raises(SystemExit, match="^the sets of the folded model "
                       "differ from the MixMo model's in 40 entries farther "
                       'than --atol from the threshold$'):
        tool.main([config, digits['checkpoint'], '--format', 'onnx',
                   '--out', str(tmp_path / 'flipped.onnx')])
