"""OnnxClassifier on a hand-built ONNX graph with the export's contract."""
import json

import numpy as np
import pytest

ort = pytest.importorskip(
    'onnxruntime',
    reason='the onnx extra (pip install mmmixmo[onnx]) is not installed')
onnx = pytest.importorskip(
    'onnx', reason='the onnx extra (pip install mmmixmo[onnx]) is not '
    'installed')
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from mmmixmo.apis import OnnxClassifier  # noqa: E402

M, K = 2, 3


def write_model(path, weight, heads=True, metadata=None):
    """``member_logits = flatten(inputs) @ weight`` viewed ``(B, M, K)``,
    ``scores = softmax(mean over members)``."""
    nodes = [
        helper.make_node('Flatten', ['inputs'], ['flat'], axis=1),
        helper.make_node('MatMul', ['flat', 'weight'], ['logits']),
        helper.make_node('Reshape', ['logits', 'shape'], ['member_logits']),
        helper.make_node('ReduceMean', ['member_logits', 'axis'], ['mean'],
                         keepdims=0),
        helper.make_node('Softmax', ['mean'], ['scores'], axis=1),
    ]
    outputs = [helper.make_tensor_value_info('scores', TensorProto.FLOAT,
                                             ['batch', K])]
    if heads:
        outputs.append(helper.make_tensor_value_info(
            'member_logits', TensorProto.FLOAT, ['batch', M, K]))
    graph = helper.make_graph(
        nodes, 'tiny', [
            helper.make_tensor_value_info('inputs', TensorProto.FLOAT,
                                          ['batch', 3, 2, 2])
        ], outputs, [
            numpy_helper.from_array(weight, 'weight'),
            numpy_helper.from_array(np.array([-1, M, K]), 'shape'),
            numpy_helper.from_array(np.array([1]), 'axis'),
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


def test_outputs_and_metadata(tmp_path, weight):
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight, metadata=dict(
        classes=json.dumps(['a', 'b', 'c']), input_size='[2, 2]',
        average='logits', producer='mmmixmo'))
    classifier = OnnxClassifier(path)
    assert (classifier.classes, classifier.input_size, classifier.average,
            classifier.num_members) == (['a', 'b', 'c'], (2, 2), 'logits', 2)

    images = np.random.default_rng(1).integers(0, 256, (5, 3, 2, 2))
    outputs = classifier(images.astype(np.uint8))  # cast to float32
    member_logits = (images.reshape(5, 12) @ weight).reshape(5, M, K)
    mean = member_logits.mean(1)
    scores = np.exp(mean - mean.max(1, keepdims=True))
    scores /= scores.sum(1, keepdims=True)
    assert sorted(outputs) == ['member_logits', 'scores']
    assert outputs['scores'].dtype == np.float32
    np.testing.assert_allclose(outputs['member_logits'], member_logits,
                               rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(outputs['scores'], scores, atol=1e-5)
    assert classifier(images[:1])['scores'].shape == (1, K)  # any batch


def test_without_heads_or_metadata(tmp_path, weight):
    path = str(tmp_path / 'tiny.onnx')
    write_model(path, weight, heads=False)
    classifier = OnnxClassifier(path)
    assert (classifier.classes, classifier.input_size, classifier.average,
            classifier.num_members) == (None, None, None, None)
    outputs = classifier(np.ones((2, 3, 2, 2), np.float32))
    assert list(outputs) == ['scores']
    np.testing.assert_allclose(outputs['scores'].sum(1), 1, rtol=1e-6)
    with pytest.raises(ValueError, match=r'\(B, C, H, W\).*\(3, 2, 2\)'):
        classifier(np.ones((3, 2, 2), np.float32))
