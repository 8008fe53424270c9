import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmmixmo.models.heads import MultiHeadClsHead


def make_head(num_members=2, num_classes=3, **kwargs):
    head = MultiHeadClsHead(
        num_members=num_members, num_classes=num_classes, in_channels=4,
        **kwargs)
    head.fc.weight.data.normal_()
    head.fc.bias.data.normal_()
    return head


def make_sample(gt, mix, pixel_mask):
    sample = DataSample()
    sample.set_field(torch.tensor(gt), 'member_gt_label')
    sample.set_field(torch.tensor(mix), 'member_mix_label')
    sample.set_field(pixel_mask, 'member_pixel_mask')
    return sample


def test_loss_by_hand():
    head = make_head()
    feats = torch.randn(2, 4)
    labels = [[0, 2], [1, 1]]
    samples = [make_sample(row, row, torch.ones(2, 1, 1)) for row in labels]
    # member 0 owns 1 of 4 cells in sample 0, 3 of 4 in sample 1
    masks = torch.zeros(2, 2, 2, 2)
    masks[0, 0, 0, 0] = 1
    masks[1, 0, 0] = masks[1, 0, 1, 0] = 1
    masks[:, 1] = 1 - masks[:, 0]
    losses = head.loss((feats, ), samples, masks)
    assert set(losses) == {'loss_head0', 'loss_head1'}
    logits = (feats @ head.fc.weight.t() + head.fc.bias).view(2, 2, 3)
    a, b = 0.25**(1 / 3), 0.75**(1 / 3)
    weights = torch.tensor([[2 * a, 2 * b], [2 * b, 2 * a]]) / (a + b)
    for i in range(2):
        ce = torch.stack([
            -F.log_softmax(logits[j, i], dim=0)[labels[j][i]]
            for j in range(2)
        ])
        expected = (weights[:, i] * ce).mean()
        assert losses[f'loss_head{i}'].item() == pytest.approx(
            expected.item(), rel=1e-5)


def test_loss_targets_count_the_visible_pixels():
    head = make_head()
    feats = torch.randn(1, 4)
    # member 0: its own image on the left half, label 2 pasted on the right
    pixel = torch.ones(2, 2, 2)
    pixel[0, :, 1] = 0
    # but the feature mask shows member 0 only on the left column
    masks = torch.zeros(1, 2, 2, 2)
    masks[0, 0, :, 0] = 1
    masks[0, 1] = 1 - masks[0, 0]
    losses = head.loss((feats, ), [make_sample([0, 1], [2, 1], pixel)],
                       masks)
    # pure own labels, weights 1
    logits = (feats @ head.fc.weight.t() + head.fc.bias).view(2, 3)
    log_probs = F.log_softmax(logits, dim=1)
    assert losses['loss_head0'].item() == pytest.approx(
        -log_probs[0, 0].item(), rel=1e-5)
    assert losses['loss_head1'].item() == pytest.approx(
        -log_probs[1, 1].item(), rel=1e-5)


def test_predict_is_softmax_of_mean_logits():
    head = make_head(num_members=3, num_classes=5)
    feats = torch.randn(2, 4)
    logits = (feats @ head.fc.weight.t() + head.fc.bias).view(2, 3, 5)
    expected = F.softmax(logits.mean(1), dim=1)
    for b, sample in enumerate(head.predict((feats, ))):
        torch.testing.assert_close(sample.pred_score, expected[b])
        assert sample.pred_label.item() == expected[b].argmax().item()
        torch.testing.assert_close(sample.member_logits, logits[b])
        torch.testing.assert_close(sample.ensemble_logits,
                                   logits[b].double().mean(0))


def test_probs_average_predicts_the_mean_of_head_probabilities():
    head = make_head(num_members=3, num_classes=5, average='probs')
    feats = torch.randn(2, 4)
    logits = (feats @ head.fc.weight.t() + head.fc.bias).view(2, 3, 5)
    expected = F.softmax(logits.double(), dim=2).mean(1)
    for b, sample in enumerate(head.predict((feats, ))):
        torch.testing.assert_close(sample.pred_score, expected[b].float())
        torch.testing.assert_close(sample.ensemble_logits, expected[b].log())
        torch.testing.assert_close(sample.member_logits, logits[b])


def test_average_error_names_the_key():
    with pytest.raises(ValueError, match='model.head.average must be one of'):
        make_head(average='mean')


def test_r_error_names_the_key():
    with pytest.raises(ValueError, match='model.head.r must be > 0, got 0'):
        MultiHeadClsHead(num_members=2, num_classes=3, in_channels=4, r=0)
