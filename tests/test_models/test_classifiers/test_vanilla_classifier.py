"""VanillaClassifier: mmpretrain's ImageClassifier with its logits in the
predictions and a post-hoc calibration; MixMo and ensembles calibrated."""
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS

import mmmixmo  # noqa: F401

from tests.utils.models import randomize_weights

SINGLE = dict(
    backbone=dict(type='WideResNet', depth=10, widen_factor=1),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=5, in_channels=64))
CAL = dict(temperature=1.5, conformal=dict(score='raps', alpha=0.1,
                                           threshold=0.9, k_reg=1, lam=0.1))


def _predict(model, images):
    samples = model.eval().test_step(dict(inputs=images))
    return (torch.stack([s.pred_score for s in samples]),
            torch.stack([s.ensemble_logits for s in samples])
            if 'ensemble_logits' in samples[0] else None, samples)


def test_same_network_as_image_classifier_plus_logits():
    torch.manual_seed(0)
    vanilla = MODELS.build(dict(type='VanillaClassifier', **SINGLE))
    randomize_weights(vanilla, linear_std=0.5)
    plain = MODELS.build(dict(type='ImageClassifier', **SINGLE))
    plain.load_state_dict(vanilla.state_dict())  # the same keys
    images = torch.randint(0, 256, (3, 3, 32, 32)).float()
    scores, logits, _ = _predict(vanilla, images)
    want, _, _ = _predict(plain, images)
    assert torch.equal(scores, want)
    raw = plain.eval()(plain.data_preprocessor(
        dict(inputs=images))['inputs'])
    torch.testing.assert_close(logits, raw.double())
    assert logits.dtype == torch.float64


def test_every_classifier_applies_its_calibration():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (4, 3, 32, 32)).float()
    configs = dict(
        vanilla=dict(type='VanillaClassifier', **SINGLE),
        mixmo=dict(
            type='MixMoClassifier',
            backbone=SINGLE['backbone'],
            mixing=dict(type='CutMixing'),
            head=dict(type='MultiHeadClsHead', num_classes=5,
                      in_channels=64)),
        ensemble=dict(
            type='EnsembleClassifier', num_members=2,
            member=dict(type='ImageClassifier', **SINGLE)))
    for name, cfg in configs.items():
        raw_model = MODELS.build(cfg)
        randomize_weights(raw_model, linear_std=0.5)
        calibrated = MODELS.build(dict(cfg, calibration=CAL))
        calibrated.load_state_dict(raw_model.state_dict())
        _, raw, _ = _predict(raw_model, images)
        raw = raw.double()  # the ensemble's are float32
        scores, logits, samples = _predict(calibrated, images)
        torch.testing.assert_close(logits, raw / 1.5, msg=name)
        torch.testing.assert_close(scores, F.softmax(raw / 1.5, 1).float())
        # RAPS: APS mass + 0.1 per rank beyond the first
        probs = F.softmax(raw / 1.5, 1)
        ranked, order = probs.sort(dim=1, descending=True, stable=True)
        score = ranked.cumsum(1) + 0.1 * torch.arange(5).double()
        want = torch.zeros_like(probs, dtype=torch.bool).scatter_(
            1, order, score <= 0.9)
        assert torch.equal(torch.stack([s.pred_set for s in samples]), want)
        assert all(s.temperature == 1.5 for s in samples)
        if name != 'vanilla':  # the members are not rescaled
            assert torch.equal(
                torch.stack([s.member_logits for s in samples]),
                torch.stack([s.member_logits for s in
                             raw_model.test_step(dict(inputs=images))]))
