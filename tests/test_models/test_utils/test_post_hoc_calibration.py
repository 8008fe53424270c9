"""PostHocCalibration: the temperature and sets of a prediction, by hand,
and the config errors that name their key."""
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmmixmo.models.utils import PostHocCalibration, build_calibration

LOGITS = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.5, 0.4, 0.3, 3.0]],
                      dtype=torch.float64)


def test_temperature_and_sets_by_hand():
    cal = PostHocCalibration(
        temperature=2.0, conformal=dict(score='aps', alpha=0.1, threshold=0.8,
                                        num_samples=500))
    scaled, sets = cal(LOGITS)
    torch.testing.assert_close(scaled, LOGITS / 2)
    # row 0: softmax([1, .5, 0, -.5]) = .4229 .2565 .1556 .0944 (rounded);
    # APS mass by rank .4229 .6794 .8350 .9294: classes 0 and 1 are <= .8
    probs = F.softmax(LOGITS / 2, dim=1)
    assert probs[0, :2].sum() <= 0.8 < probs[0, :3].sum()
    # row 1: softmax([.25, .2, .15, 1.5]): the top class holds .5623 <= .8,
    # then class 0 brings the mass to .7227 <= .8, then class 1 to .8747
    assert sets.tolist() == [[True, True, False, False],
                             [True, False, False, True]]
    assert cal.to_dict() == dict(
        temperature=2.0,
        conformal=dict(score='aps', alpha=0.1, threshold=0.8, k_reg=0,
                       lam=0.0, num_samples=500))
    assert PostHocCalibration()(LOGITS)[1] is None


def test_calibrate_samples():
    cal = PostHocCalibration(
        temperature=0.5, conformal=dict(score='lac', alpha=0.2,
                                        threshold=0.7))
    with_logits = DataSample().set_pred_score(
        F.softmax(LOGITS[0], 0).float())
    with_logits.set_field(LOGITS[0], 'ensemble_logits')
    # a single network of mmpretrain: its log-probabilities
    only_scores = DataSample().set_pred_score(
        F.softmax(LOGITS[1], 0).float()).set_pred_label(3)
    out = cal.calibrate_samples([with_logits, only_scores])
    probs = F.softmax(LOGITS / 0.5, dim=1)
    for sample, want, z in zip(out, probs, LOGITS):
        torch.testing.assert_close(sample.pred_score, want.float())
        torch.testing.assert_close(
            sample.ensemble_logits,
            (z - z.logsumexp(0)) / 0.5 if sample is only_scores else z / 0.5)
        assert sample.temperature == 0.5
        # LAC: the classes with p >= 1 - 0.7 = 0.3
        assert sample.pred_set.tolist() == (want >= 0.3).tolist()
    assert only_scores.pred_label.tolist() == [3]


@pytest.mark.parametrize('cfg, message', [
    (dict(temperature=0), 'model.calibration.temperature must be a number'),
    (dict(temperature=True), 'temperature must be a number > 0'),
    (dict(temperature=float('inf')), 'temperature must be a number > 0'),
    (dict(conformal=dict(score='thr', alpha=0.1, threshold=0.5)),
     "model.calibration.conformal.score must be one of ('lac', 'aps', "
     "'raps'), got 'thr'"),
    (dict(conformal=dict(score='aps', alpha=1, threshold=0.5)),
     'conformal.alpha must be a number in'),
    (dict(conformal=dict(score='aps', alpha=0.1)),
     'conformal.threshold must be a finite number, got None'),
    (dict(conformal=dict(score='aps', alpha=0.1, threshold=float('nan'))),
     'conformal.threshold must be a finite number'),
    (dict(conformal=dict(score='raps', alpha=0.1, threshold=0.5, k_reg=1.5)),
     'conformal.k_reg must be an int >= 0'),
    (dict(conformal=dict(score='raps', alpha=0.1, threshold=0.5, lam=-1)),
     'conformal.lam must be a number >= 0'),
    (dict(temp=2), 'model.calibration must be None or a dict with '
     'temperature and conformal'),
])
def test_errors_name_the_key(cfg, message):
    with pytest.raises(ValueError, match=message.replace('(', r'\(').replace(
            ')', r'\)')):
        build_calibration(cfg)
    assert build_calibration(None) is None
