"""OnnxClassifier on hand-built ONNX graphs with the export's contract, and
its refusal of files that break it."""
import json

import mmcv
import numpy as np
import pytest

ort = pytest.importorskip(
    'onnxruntime',
    reason='the onnx extra (pip install mmmixmo[onnx]) is not installed')
onnx = pytest.importorskip(
    'onnx', reason='the onnx extra (pip install mmmixmo[onnx]) is not '
    'installed')
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from mmmixmo.apis import OnnxClassifier, OnnxModelError  # noqa: E402
from mmmixmo.apis.onnx_classifier import check_probabilities  # noqa: E402

M, K = 2, 3
HOW = ('tools/deployment/export_mixmo.py CONFIG CHECKPOINT --format onnx '
       '--heads')
# the export's metadata for a 2x2 input, RGB training images
METADATA = dict(
    classes=json.dumps(['a', 'b', 'c']), input_size='[2, 2]',
    channel_order='rgb',
    transforms=json.dumps([dict(type='Resize', scale=[2, 2])]),
    average='logits', producer='mmmixmo')
# the calibration metadata of a conformal export, and the hand-built sets
CONFORMAL = dict(temperature=1.0, conformal=dict(
    score='lac', alpha=0.1, threshold=0.75, k_reg=0, lam=0.0))
SET_MIN = 0.25


def write_model(path, weight, heads=True, metadata=METADATA, softmax=True,
                logits=False, sets=False):
    """``member_logits = flatten(inputs) @ weight`` viewed ``(B, M, K)``,
    ``scores = softmax(mean over members)`` (the mean without
    ``softmax``); with ``logits`` the mean as ``logits``, with ``sets`` the
    classes of scores >= :data:`SET_MIN` as ``sets``."""
    nodes = [
        helper.make_node('Flatten', ['inputs'], ['flat'], axis=1),
        helper.make_node('MatMul', ['flat', 'weight'], ['flat_logits']),
        helper.make_node('Reshape', ['flat_logits', 'shape'],
                         ['member_logits']),
        helper.make_node('ReduceMean', ['member_logits', 'axis'], ['mean'],
                         keepdims=0),
        helper.make_node('Softmax', ['mean'], ['scores'], axis=1)
        if softmax else helper.make_node('Identity', ['mean'], ['scores']),
    ]
    nodes += [helper.make_node('Identity', ['mean'], ['logits'])] * logits
    nodes += [helper.make_node('GreaterOrEqual', ['scores', 'set_min'],
                               ['sets'])] * sets
    outputs = [helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                             ['batch', K])]
    if heads:
        outputs.append(helper.make_tensor_value_info(
            'member_logits', TensorProto.FLOAT, ['batch', M, K]))
    if logits:
        outputs.append(helper.make_tensor_value_info(
            'logits', TensorProto.FLOAT, ['batch', K]))
    if sets:
        outputs.append(helper.make_tensor_value_info(
            'sets', TensorProto.BOOL, ['batch', K]))
    graph = helper.make_graph(
        nodes, 'tiny', [
            helper.make_tensor_value_info('inputs', TensorProto.FLOAT,
                                          ['batch', 3, 2, 2])
        ], outputs, [
            numpy_helper.from_array(weight, 'weight'),
            numpy_helper.from_array(np.array([-1, M, K]), 'shape'),
            numpy_helper.from_array(np.array([1]), 'axis'),
            numpy_helper.from_array(np.array(SET_MIN, np.float32),
                                    'set_min'),
        ])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid('', 18)])
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)


@pytest.fixture
def weight():
    return np.random.default_rng(0).normal(size=(12, M * K)).astype(
        np.float32)


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_outputs_metadata_and_records(tmp_path, weight):
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight)
    classifier = OnnxClassifier(path)
    assert (classifier.classes, classifier.input_size,
            classifier.channel_order, classifier.average,
            classifier.num_members) == (['a', 'b', 'c'], (2, 2), 'rgb',
                                        'logits', 2)

    images = np.random.default_rng(1).integers(0, 256, (5, 3, 2, 2))
    outputs = classifier(images.astype(np.uint8))  # cast to float32
    member_logits = (images.reshape(5, 12) @ weight).reshape(5, M, K)
    assert sorted(outputs) == ['member_logits', 'scores']
    assert outputs['scores'].dtype == np.float32
    np.testing.assert_allclose(outputs['member_logits'], member_logits,
                               rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(outputs['scores'],
                               softmax(member_logits.mean(1)), atol=1e-5)
    assert classifier(images[:1])['scores'].shape == (1, K)  # any batch
    with pytest.raises(ValueError, match=r'\(B, C, H, W\).*\(3, 2, 2\)'):
        classifier(np.ones((3, 2, 2), np.float32))

    records = classifier.predict_arrays(images)
    assert [r['pred_class'] for r in records] == [
        'abc'[i] for i in outputs['scores'].argmax(1)
    ]
    assert [r['member_labels'] for r in records] == \
        outputs['member_logits'].argmax(2).tolist()
    assert records[0]['pred_score'] == pytest.approx(
        float(outputs['scores'][0].max()), abs=1e-6)


def test_pipeline_of_the_metadata(tmp_path, weight):
    """Files go through the recorded transforms, in the recorded order."""
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight)
    rgb = np.random.default_rng(2).integers(0, 256, (6, 4, 3), np.uint8)
    image = str(tmp_path / 'image.png')
    assert mmcv.imwrite(rgb[..., ::-1], image)
    classifier = OnnxClassifier(path)
    want = mmcv.imresize(rgb, (2, 2)).transpose(2, 0, 1)
    np.testing.assert_array_equal(classifier.pipeline(image), want)
    write_model(path, weight, metadata=dict(METADATA, channel_order='bgr'))
    np.testing.assert_array_equal(OnnxClassifier(path).pipeline(image),
                                  want[::-1])


def test_refuses_files_of_other_producers_or_older_exports(tmp_path, weight):
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight, metadata={})
    with pytest.raises(OnnxModelError) as error:
        OnnxClassifier(path)
    assert str(error.value).startswith(
        f"{path} is not a file of mmmixmo's ONNX export (no producer=mmmixmo"
        ' metadata; missing metadata: classes, input_size, channel_order, '
        'transforms): prediction needs')
    assert HOW in str(error.value)
    older = {key: METADATA[key]
             for key in ('classes', 'input_size', 'average', 'producer')}
    write_model(path, weight, metadata=older)
    with pytest.raises(OnnxModelError, match=r'export \(missing metadata: '
                       r'channel_order, transforms\)'):
        OnnxClassifier(path)


@pytest.mark.parametrize('metadata, message', [
    # fewer classes than the outputs
    (dict(METADATA, classes='["a", "b"]'),
     '2 classes in the metadata, output scores has 3; 2 classes in the '
     'metadata, output member_logits has 3;'),
    (dict(METADATA, input_size='[4, 4]'),
     r"input shape \['batch', 3, 2, 2\] against the metadata input_size "
     r'\[4, 4\];'),
], ids=['fewer-classes', 'input-size'])
def test_refuses_inconsistent_files(tmp_path, weight, metadata, message):
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight, metadata=metadata)
    with pytest.raises(OnnxModelError, match=f'{path}: {message}'):
        OnnxClassifier(path)


def test_checks_every_batch(tmp_path, weight):
    """Widths unknown until run (symbolic shapes) are checked on the run."""
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight)
    classifier = OnnxClassifier(path)
    classifier.classes = ['a', 'b']
    with pytest.raises(OnnxModelError, match=f'{path}: 2 classes in the '
                       'metadata, output scores has 3; 2 classes in the '
                       'metadata, output member_logits has 3;'):
        classifier(np.zeros((1, 3, 2, 2), np.float32))


def test_refuses_scores_that_are_not_probabilities(tmp_path, weight):
    path = str(tmp_path / 'logits.onnx')
    write_model(path, weight, softmax=False)
    with pytest.raises(OnnxModelError,
                       match=f'{path}: the output scores are not '
                       r'probabilities \(row 0: min .*, max .*, sum .*; want '
                       r'values in \[0, 1\] summing to 1 within 0.0001\)'):
        OnnxClassifier(path)


def test_check_probabilities():
    good = np.array([[0.2, 0.8], [1.0, 0.0], [0.5, 0.50005]], np.float32)
    check_probabilities(good, 'm.onnx')
    for row in ([0.5, 0.6], [1.2, -0.2], [np.nan, 1.0], [0.4, 0.5]):
        bad = np.array([[0.2, 0.8], row], np.float32)
        with pytest.raises(OnnxModelError, match=r'm.onnx: .* \(row 1:'):
            check_probabilities(bad, 'm.onnx')


def test_older_exports_have_no_set_and_no_logits(tmp_path, weight):
    """Files without calibration metadata, ``logits`` and ``sets``: the
    records of before."""
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight)
    classifier = OnnxClassifier(path)
    assert classifier.calibration is None
    images = np.random.default_rng(1).integers(0, 256, (3, 3, 2, 2))
    for record in classifier.predict_arrays(images):
        assert set(record) == {'pred_label', 'pred_score', 'pred_class',
                               'member_labels', 'member_classes',
                               'uncertainty'}
        assert list(record['uncertainty']) == [
            'max_prob', 'entropy', 'mutual_information', 'disagreement'
        ]


def test_sets_and_logits_in_the_records(tmp_path, weight):
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight, logits=True, sets=True,
                metadata=dict(METADATA, calibration=json.dumps(CONFORMAL)))
    classifier = OnnxClassifier(path)
    assert classifier.calibration == CONFORMAL
    # varied sets: scale the inputs down for flatter scores
    images = np.random.default_rng(1).integers(0, 256, (6, 3, 2, 2)) / 1000
    outputs = classifier(images)
    assert sorted(outputs) == ['logits', 'member_logits', 'scores', 'sets']
    assert outputs['sets'].dtype == bool
    mean = (images.reshape(6, 12) @ weight).reshape(6, M, K).mean(1)
    np.testing.assert_allclose(outputs['logits'], mean, atol=1e-4)
    scores = outputs['scores']
    sizes = (scores >= SET_MIN).sum(1)
    assert len(set(sizes)) > 1
    for i, record in enumerate(classifier.predict_arrays(images)):
        want = [k for k in np.argsort(-scores[i], kind='stable')
                if scores[i, k] >= SET_MIN]
        assert record['pred_set'] == want
        assert record['pred_set_classes'] == ['abc'[k] for k in want]
        z = mean[i]
        energy = -(z.max() + np.log(np.exp(z - z.max()).sum()))
        assert record['uncertainty']['energy'] == pytest.approx(energy,
                                                                abs=1e-4)
        assert record['uncertainty']['max_logit'] == pytest.approx(
            -z.max(), abs=1e-4)


def test_refuses_sets_that_do_not_match_the_metadata(tmp_path, weight):
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight, logits=True,
                metadata=dict(METADATA, calibration=json.dumps(CONFORMAL)))
    with pytest.raises(OnnxModelError) as error:
        OnnxClassifier(path)
    assert str(error.value).startswith(
        f"{path}: the calibration metadata is conformal ({{'score': 'lac', "
        "'alpha': 0.1, 'threshold': 0.75, 'k_reg': 0, 'lam': 0.0}) but the "
        'graph has no output sets; write one with')
    calibrated = dict(temperature=2.0, conformal=None)
    write_model(path, weight, logits=True, sets=True,
                metadata=dict(METADATA, calibration=json.dumps(calibrated)))
    with pytest.raises(OnnxModelError, match=f'{path}: the graph outputs '
                       'sets but the calibration metadata is not conformal'):
        OnnxClassifier(path)
    write_model(path, weight, logits=True, sets=True)  # no metadata
    with pytest.raises(OnnxModelError, match='is not conformal \\(None\\)'):
        OnnxClassifier(path)
