import pytest
import torch
from mmpretrain.structures import DataSample
from mmengine.model import BaseModel

from mmmixmo.models.tta import EnsembleScoreTTA


class _Classifier(BaseModel):
    """Stands for the wrapped classifier (merging does not call it)."""

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return inputs


def _view(member_logits):
    member_logits = torch.tensor(member_logits)
    sample = DataSample().set_gt_label(0)
    sample.set_pred_score(member_logits.mean(0).softmax(-1))
    sample.set_field(member_logits, 'member_logits')
    return sample


def test_merges_scores_and_heads_of_the_views():
    tta = EnsembleScoreTTA(module=_Classifier())
    views = [_view([[2., 0., 0.], [0., 1., 0.]]).set_pred_label(0),
             _view([[0., 0., 3.], [1., 1., 0.]])]
    merged = tta.merge_preds([views])[0]
    score = (views[0].pred_score + views[1].pred_score) / 2
    assert torch.allclose(merged.pred_score, score)
    assert merged.pred_label.item() == score.argmax().item() == 2
    assert torch.allclose(merged.ensemble_logits.softmax(-1), score)
    heads = (views[0].member_logits.softmax(-1) +
             views[1].member_logits.softmax(-1)) / 2
    assert torch.allclose(merged.member_logits.softmax(-1), heads, atol=1e-6)
    assert merged.gt_label.item() == 0


def test_single_head_models_get_ensemble_logits_only():
    tta = EnsembleScoreTTA(module=_Classifier())
    views = []
    for score in ([0.7, 0.2, 0.1], [0.5, 0.3, 0.2]):
        views.append(DataSample().set_pred_score(torch.tensor(score)))
    merged = tta.merge_preds([views])[0]
    assert torch.allclose(merged.pred_score, torch.tensor([0.6, 0.25, 0.15]))
    assert torch.allclose(
        merged.ensemble_logits.softmax(-1), merged.pred_score, atol=1e-6)
    assert 'member_logits' not in merged


def test_refuses_conformal_sets():
    tta = EnsembleScoreTTA(module=_Classifier())
    views = [_view([[2., 0., 0.], [0., 1., 0.]]) for _ in range(2)]
    for view in views:
        view.set_field(torch.tensor([True, False, False]), 'pred_set')
    with pytest.raises(ValueError, match='test without --tta'):
        tta.merge_preds([views])
