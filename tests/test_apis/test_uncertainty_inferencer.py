"""UncertaintyInferencer and uncertainty_record on a tiny MixMo.

The quickstart models with a WRN-10-1 backbone (M = 2, K = 10), random BN
statistics and heads, saved with class names (and no channel order: they
take RGB images, as the digits' arrays).
"""
import math
import os.path as osp

import mmcv
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from mmmixmo.apis import UncertaintyInferencer, uncertainty_record
from mmmixmo.evaluation.functional.conformal import prediction_sets
from mmmixmo.evaluation.functional.uncertainty import (ood_logits,
                                                       uncertainty_scores)
from mmmixmo.models.utils import fold_members
from mmmixmo.utils import CheckpointMismatchError, checkpoint_loading
from tests.conftest import REPO_ROOT
from tests.utils.models import randomize_weights

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart')
CLASSES = [f'digit{i}' for i in range(10)]


def make_tiny_model(root: str, mixmo: bool = True,
                    ensemble: bool = False) -> dict:
    """A WRN-10-1 quickstart config and random checkpoint in ``root``: a
    MixMo, a single network, or (``ensemble``, after the single network) a
    deep ensemble of 2 single networks, as in configs/ensembles.

    Returns:
        dict: ``config``, ``checkpoint`` (paths) and ``model`` (eval mode).
    """
    base = ('cut-mixmo_wrn16-1_1xb64-b2_digits.py'
            if mixmo else 'vanilla_wrn16-1_1xb64_digits.py')
    name = ('tiny_ensemble' if ensemble else
            'tiny_mixmo' if mixmo else 'tiny_vanilla')
    config = osp.join(root, f'{name}.py')
    with open(config, 'w') as file:
        if ensemble:
            file.write(f"_base_ = [{osp.join(root, 'tiny_vanilla.py')!r}]\n"
                       "model = dict(_delete_=True, type='EnsembleClassifier',"
                       ' member={{_base_.model}}, num_members=2, '
                       "average='probs')\n")
        else:
            file.write(f'_base_ = [{osp.join(QUICKSTART, base)!r}]\n'
                       'model = dict(backbone=dict(depth=10))\n')
    torch.manual_seed(0)
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(config)
    # as the runner and mmpretrain's get_model
    cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(cfg.model)
    randomize_weights(model, linear_std=0.5)
    checkpoint = osp.join(root, f'{name}.pth')
    save_checkpoint(
        dict(meta=dict(dataset_meta=dict(classes=CLASSES)),
             state_dict=model.state_dict()), checkpoint)
    return dict(config=config, checkpoint=checkpoint, model=model.eval())


def write_images(folder: str, names, size=(32, 32), seed: int = 0) -> list:
    """Random colour images of varied brightness (PNG or JPEG by suffix)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i, name in enumerate(names):
        path = osp.join(folder, name)
        low = 40 * (i % 5)
        image = rng.integers(low, low + 56, (*size, 3), dtype=np.uint8)
        assert mmcv.imwrite(image, path)
        paths.append(path)
    return paths


def write_calibrated(config: str, calibration: dict, name: str) -> str:
    """A config ``name``.py next to ``config``: its model with
    ``model.calibration`` (its checkpoint loads into it)."""
    path = osp.join(osp.dirname(config), f'{name}.py')
    with open(path, 'w') as file:
        file.write(f'_base_ = [{config!r}]\n'
                   f'model = dict(calibration={calibration!r})\n')
    return path


def reference(model, paths, order='rgb', size=(32, 32)):
    """The model's predict on the files decoded, in ``order``, resized to
    ``size`` (bilinear), and its scores."""
    raw = torch.stack([
        torch.from_numpy(
            mmcv.imresize(mmcv.imread(p, channel_order=order),
                          size[::-1])).permute(2, 0, 1) for p in paths
    ])
    with torch.no_grad():
        samples = model.test_step(dict(inputs=raw))
    probs = torch.stack([s.pred_score for s in samples])
    heads, ensemble = (
        torch.stack([s.get(key) for s in samples])
        if key in samples[0] else None
        for key in ('member_logits', 'ensemble_logits'))
    scores = uncertainty_scores(
        probs, None if heads is None else F.softmax(heads.double(), 2),
        ood_logits(heads, ensemble))
    return probs, heads, scores


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny')
    images = write_images(str(root), [f'img{i}.png' for i in range(5)] +
                          ['img5.jpg'])
    return dict(
        mixmo=make_tiny_model(str(root)),
        vanilla=make_tiny_model(str(root), mixmo=False),
        images=images)


def test_uncertainty_record_by_hand():
    members = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])
    scores = members.mean(0)  # (0.6, 0.4)
    record = uncertainty_record(scores.numpy(), members.log().numpy(),
                                ['cat', 'dog'])

    def entropy(*p):
        return -sum(q * math.log(q) for q in p)

    mutual = entropy(0.6, 0.4) - (entropy(0.9, 0.1) + entropy(0.3, 0.7) +
                                  entropy(0.6, 0.4)) / 3
    assert record.pop('uncertainty') == pytest.approx(
        dict(max_prob=0.4, entropy=entropy(0.6, 0.4),
             mutual_information=mutual, disagreement=2 / 3), abs=1e-6)
    assert record.pop('pred_score') == pytest.approx(0.6, abs=1e-6)
    assert record == dict(pred_label=0, pred_class='cat',
                          member_labels=[0, 1, 0],
                          member_classes=['cat', 'dog', 'cat'])

    # One network (or one member): no member scores; no classes: no names.
    single = uncertainty_record(torch.tensor([0.2, 0.8]))
    assert set(single) == {'pred_label', 'pred_score', 'uncertainty'}
    assert single['pred_label'] == 1
    assert single['uncertainty'] == pytest.approx(
        dict(max_prob=0.2, entropy=entropy(0.2, 0.8)), abs=1e-6)
    one = uncertainty_record(torch.tensor([0.2, 0.8]), torch.zeros(1, 2))
    assert one['member_labels'] == [0]
    assert set(one['uncertainty']) == {'max_prob', 'entropy'}
    with pytest.raises(ValueError, match=r'member_logits must be \(M, 2\)'):
        uncertainty_record(torch.tensor([0.2, 0.8]), torch.zeros(2, 3))
    # a diverged model: no record (the ONNX path refuses such scores too)
    diverged = (([math.nan, 1.0], None, None),
                ([0.2, 0.8], [[0.0, math.inf]], None),
                ([0.2, 0.8], None, [-math.inf, 0.0]))
    for scores, heads, logits in diverged:
        with pytest.raises(ValueError, match='^the model predicts NaN or '
                           'inf: its weights are broken'):
            uncertainty_record(
                torch.tensor(scores),
                None if heads is None else torch.tensor(heads),
                logits=None if logits is None else torch.tensor(logits))


def test_uncertainty_record_set_and_logits_by_hand():
    """The set by decreasing probability (ties in class order); energy
    ``-log sum exp z`` and max logit ``-max z`` of the given logits."""
    scores = np.array([0.2, 0.35, 0.1, 0.35])
    record = uncertainty_record(
        scores, classes=['a', 'b', 'c', 'd'],
        pred_set=np.array([True, True, False, True]),
        logits=np.array([1.0, 2.0, 0.0, 2.0]))
    assert (record['pred_label'], record['pred_class']) == (1, 'b')
    assert record['pred_set'] == [1, 3, 0]
    assert record['pred_set_classes'] == ['b', 'd', 'a']
    energy = -math.log(math.e + 2 * math.e**2 + 1)
    assert record['uncertainty']['energy'] == pytest.approx(energy,
                                                            abs=1e-12)
    assert record['uncertainty']['max_logit'] == -2.0
    assert list(record['uncertainty']) == [
        'max_prob', 'entropy', 'energy', 'max_logit'
    ]
    # an empty set (no class conforms enough); no classes: indices only
    empty = uncertainty_record(torch.tensor([0.5, 0.5]),
                               pred_set=torch.zeros(2, dtype=torch.bool))
    assert empty['pred_set'] == [] and 'pred_set_classes' not in empty
    assert set(empty['uncertainty']) == {'max_prob', 'entropy'}
    for key, value in (('pred_set', torch.ones(3, dtype=torch.bool)),
                       ('logits', torch.zeros(1, 2))):
        with pytest.raises(ValueError, match=rf'^{key} must be \(2, \) like '
                           r'the scores, got \('):
            uncertainty_record(torch.tensor([0.5, 0.5]), **{key: value})


def test_mixmo_results_equal_the_model(tiny):
    inferencer = UncertaintyInferencer(
        tiny['mixmo']['config'],
        pretrained=tiny['mixmo']['checkpoint'],
        device='cpu')
    assert inferencer.classes == CLASSES
    results = inferencer(tiny['images'], batch_size=4)
    probs, heads, scores = reference(tiny['mixmo']['model'], tiny['images'])
    assert heads.shape == (6, 2, 10)
    assert len(results) == 6
    labels = probs.argmax(1).tolist()
    member_labels = heads.argmax(2).tolist()
    assert [r['pred_label'] for r in results] == labels
    assert [r['pred_class'] for r in results] == [CLASSES[i] for i in labels]
    assert [r['member_labels'] for r in results] == member_labels
    assert [r['member_classes'] for r in results] == [
        [CLASSES[i] for i in row] for row in member_labels
    ]
    # The random heads disagree (disagreement is not trivially 0).
    assert any(a != b for a, b in member_labels)
    got = torch.stack([torch.as_tensor(r['pred_scores']) for r in results])
    assert (got - probs).abs().max() <= 1e-5
    for i, result in enumerate(results):
        assert result['pred_score'] == pytest.approx(
            probs[i].max().item(), abs=1e-5)
        assert result['uncertainty'] == pytest.approx(
            {name: value[i].item()
             for name, value in scores.items()}, abs=1e-5)
        assert set(result['uncertainty']) == {
            'max_prob', 'entropy', 'mutual_information', 'disagreement',
            'energy', 'max_logit'
        }
        # the energy of the mean head logits
        assert result['uncertainty']['energy'] == pytest.approx(
            -torch.logsumexp(heads[i].double().mean(0), 0).item(), abs=1e-6)
        assert 'pred_set' not in result

    # Data samples are mmpretrain's, untouched.
    samples = inferencer(tiny['images'][:2], return_datasamples=True)
    assert all(isinstance(s, DataSample) for s in samples)
    assert samples[0].member_logits.shape == (2, 10)


def test_single_network_has_no_member_fields(tiny):
    inferencer = UncertaintyInferencer(
        tiny['vanilla']['config'],
        pretrained=tiny['vanilla']['checkpoint'],
        device='cpu')
    results = inferencer(tiny['images'], batch_size=6)
    probs, heads, scores = reference(tiny['vanilla']['model'],
                                     tiny['images'])
    assert heads is None
    for i, result in enumerate(results):
        assert set(result) == {
            'pred_scores', 'pred_label', 'pred_score', 'pred_class',
            'uncertainty'
        }
        assert result['pred_label'] == probs[i].argmax().item()
        # a VanillaClassifier: the energy of its logits
        assert result['uncertainty'] == pytest.approx(
            {name: scores[name][i].item()
             for name in ('max_prob', 'entropy', 'energy', 'max_logit')},
            abs=1e-5)


def _scores(results):
    return torch.stack([torch.as_tensor(r['pred_scores']) for r in results])


def test_channel_order_of_the_checkpoint_else_the_config(tiny, tmp_path):
    """Files in the training images' channel order; arrays as given."""
    mixmo, images = tiny['mixmo'], tiny['images']
    rgb, _, _ = reference(mixmo['model'], images, 'rgb')
    bgr, _, _ = reference(mixmo['model'], images, 'bgr')
    # the model sees the difference (100 times the tolerance below)
    assert (rgb - bgr).abs().max() > 1e-3
    # no meta channel_order: the quickstart's pipelines read RGB arrays
    inferencer = UncertaintyInferencer(
        mixmo['config'], pretrained=mixmo['checkpoint'], device='cpu')
    assert inferencer.channel_order == 'rgb'
    assert (_scores(inferencer(images, batch_size=6)) -
            rgb).abs().max() <= 1e-5
    arrays = [mmcv.imread(p, channel_order='rgb') for p in images]
    assert (_scores(inferencer(arrays, batch_size=6)) -
            rgb).abs().max() <= 1e-5
    # the checkpoint's channel order wins
    checkpoint = str(tmp_path / 'bgr.pth')
    save_checkpoint(
        dict(meta=dict(channel_order='bgr'),
             state_dict=mixmo['model'].state_dict()), checkpoint)
    inferencer = UncertaintyInferencer(
        mixmo['config'], pretrained=checkpoint, device='cpu')
    assert inferencer.channel_order == 'bgr'
    assert (_scores(inferencer(images, batch_size=6)) -
            bgr).abs().max() <= 1e-5


def test_images_of_any_size_and_kind_batch_together(tiny, tmp_path):
    """32x32, 64x64 and 100x80, colour and grey, PNG and JPEG, in one batch:
    each resized to 32x32 as the model's reference."""
    names = ['a.png', 'b.jpg', 'c.png', 'd.png']
    paths = (write_images(str(tmp_path), names[:2], size=(64, 64)) +
             write_images(str(tmp_path), names[2:3], size=(100, 80)))
    grey = str(tmp_path / names[3])
    assert mmcv.imwrite(mmcv.imread(paths[0], flag='grayscale'), grey)
    paths += [grey, tiny['images'][0]]
    inferencer = UncertaintyInferencer(
        tiny['mixmo']['config'], pretrained=tiny['mixmo']['checkpoint'],
        device='cpu')
    results = inferencer(paths, batch_size=5)
    probs, heads, _ = reference(tiny['mixmo']['model'], paths)
    assert (_scores(results) - probs).abs().max() <= 1e-5
    assert [r['member_labels'] for r in results] == \
        heads.argmax(2).tolist()
    # one at a time: the same
    alone = inferencer(paths, batch_size=1)
    assert (_scores(alone) - probs).abs().max() <= 1e-5

    bad = str(tmp_path / 'bad.jpg')
    with open(bad, 'w') as file:
        file.write('not an image')
    with pytest.raises(ValueError, match=f"cannot decode the image file "
                       f"'{bad}'"):
        inferencer(paths[:1] + [bad])


def test_refuses_a_checkpoint_of_another_config(tiny, monkeypatch):
    mixmo, vanilla = tiny['mixmo'], tiny['vanilla']
    with pytest.raises(CheckpointMismatchError) as error:
        UncertaintyInferencer(mixmo['config'],
                              pretrained=vanilla['checkpoint'])
    # a single network would make a MixMo model of M equal members
    assert str(error.value).startswith(
        f"checkpoint {vanilla['checkpoint']!r} into the model of "
        f"{mixmo['config']!r}: the weights are a single network's "
        '(backbone.conv1.weight, no member encoders), not a MixMo '
        "model's. A MixMo model starts from a single network in training")
    # asked for: the MixMo model it starts, which predicts as it does
    warnings = []
    monkeypatch.setattr(checkpoint_loading, 'print_log',
                        lambda message, **kwargs: warnings.append(message))
    inferencer = UncertaintyInferencer(
        mixmo['config'], pretrained=vanilla['checkpoint'],
        partial_load=True)
    assert warnings == []  # every key fits once unfolded
    state = inferencer.model.state_dict()
    single = vanilla['model'].state_dict()
    core = 'backbone.layer1.0.conv1.weight'
    assert torch.equal(state[core], single[core])
    assert torch.equal(
        fold_members([state['encoders.convs.0.weight'],
                      state['encoders.convs.1.weight']]),
        single['backbone.conv1.weight'])
    assert len(inferencer(tiny['images'][:2])) == 2


def test_refuses_to_predict_without_weights(tiny):
    with pytest.raises(ValueError, match='pretrained=True: no checkpoint to '
                       'load .*pass pretrained=CHECKPOINT'):
        UncertaintyInferencer(tiny['mixmo']['config'])
    with pytest.raises(ValueError, match='partial_load=True needs a '
                       'checkpoint'):
        UncertaintyInferencer(tiny['mixmo']['config'], pretrained=False,
                              partial_load=True)
    # asked for: the initial weights
    inferencer = UncertaintyInferencer(tiny['mixmo']['config'],
                                       pretrained=False)
    assert inferencer.classes == tuple('0123456789')  # the Digits'


def test_deep_ensemble_checkpoint(tiny, tmp_path):
    """A merged deep ensemble loads strictly and has members."""
    ensemble = make_tiny_model(osp.dirname(tiny['vanilla']['config']),
                               mixmo=False, ensemble=True)
    inferencer = UncertaintyInferencer(
        ensemble['config'], pretrained=ensemble['checkpoint'], device='cpu')
    results = inferencer(tiny['images'], batch_size=6)
    probs, heads, scores = reference(ensemble['model'], tiny['images'])
    assert heads.shape == (6, 2, 10)
    assert (_scores(results) - probs).abs().max() <= 1e-5
    assert [r['member_labels'] for r in results] == heads.argmax(2).tolist()
    assert results[0]['uncertainty']['mutual_information'] == pytest.approx(
        scores['mutual_information'][0].item(), abs=1e-5)


def test_calibrated_conformal_model(tiny):
    """The calibrated scores, the set of ``softmax(z / T)`` by decreasing
    probability and the energy of the mean head logits divided by T."""
    mixmo = tiny['mixmo']
    calibration = dict(temperature=1.7, conformal=dict(
        score='aps', alpha=0.1, threshold=0.6, num_samples=100))
    config = write_calibrated(mixmo['config'], calibration, 'tiny_aps')
    inferencer = UncertaintyInferencer(config,
                                       pretrained=mixmo['checkpoint'],
                                       device='cpu')
    results = inferencer(tiny['images'], batch_size=4)
    _, heads, _ = reference(mixmo['model'], tiny['images'])
    mean = heads.double().mean(1)
    probs = F.softmax(mean / 1.7, dim=1)
    sets = prediction_sets(probs, 0.6, 'aps')
    sizes = sets.sum(1).tolist()
    assert min(sizes) >= 1 and max(sizes) > 1  # sets of several classes
    for i, result in enumerate(results):
        assert result['pred_scores'] == pytest.approx(probs[i].tolist(),
                                                      abs=1e-5)
        order = probs[i].argsort(descending=True).tolist()
        assert result['pred_set'] == [k for k in order if sets[i, k]]
        assert result['pred_set_classes'] == [
            CLASSES[k] for k in result['pred_set']
        ]
        assert result['uncertainty']['energy'] == pytest.approx(
            -torch.logsumexp(mean[i] / 1.7, 0).item(), abs=1e-6)
        assert result['uncertainty']['max_logit'] == pytest.approx(
            -(mean[i] / 1.7).max().item(), abs=1e-6)
