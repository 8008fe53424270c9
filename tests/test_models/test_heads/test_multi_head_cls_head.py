
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from mmmixmo.models.heads import MultiHeadClsHead, member_loss_weights


def test_weights_by_hand():
    kappa = torch.tensor([[0.2, 0.8], [0.5, 0.5]])
    w = member_loss_weights(kappa, r=3)
    a, b = 0.2**(1 / 3), 0.8**(1 / 3)
    assert w[0, 0].item() == pytest.approx(2 * a / (a + b), abs=1e-6)
    assert w[0, 1].item() == pytest.approx(2 * b / (a + b), abs=1e-6)
    assert w[0, 0].item() == pytest.approx(0.77302, abs=1e-4)
    # the member owning more of the feature gets the larger weight
    assert w[0, 1] > w[0, 0]
    assert torch.allclose(w[1], torch.ones(2))
    assert torch.allclose(w.sum(1), torch.full((2, ), 2.0))


def test_weights_r1_and_m3():
    kappa = torch.tensor([[0.1, 0.3, 0.6]])
    assert torch.allclose(member_loss_weights(kappa, r=1), 3 * kappa)
    w = member_loss_weights(kappa, r=3)
    assert w.sum().item() == pytest.approx(3.0, abs=1e-6)
    assert (w[0, 0] < w[0, 1]) and (w[0, 1] < w[0, 2])


def test_weights_carry_no_gradient():
    kappa = torch.tensor([[0.3, 0.7]], requires_grad=True)
    w = member_loss_weights(kappa, r=3)
    assert not w.requires_grad


def _head(num_members=2, num_classes=3, in_channels=4, r=3.0):
    head = MultiHeadClsHead(
        num_members=num_members,
        num_classes=num_classes,
        in_channels=in_channels,
        r=r)
    torch.manual_seed(0)
    head.fc.weight.data.normal_()
    head.fc.bias.data.normal_()
    return head


def _samples(labels):
    samples = []
    for row in labels:
        s = DataSample()
        s.set_field(torch.tensor(row), 'member_gt_label')
        samples.append(s)
    return samples


def test_loss_keys_and_values_by_hand():
    head = _head()
    feats = torch.randn(2, 4)
    labels = [[0, 2], [1, 1]]
    kappa = torch.tensor([[0.2, 0.8], [0.6, 0.4]])
    masks = kappa.view(2, 2, 1, 1)
    losses = head.loss((feats, ), _samples(labels), masks=masks, kappa=kappa)
    assert set(losses) == {'loss_head0', 'loss_head1'}
    logits = (feats @ head.fc.weight.t() + head.fc.bias).view(2, 2, 3)
    w = member_loss_weights(kappa, 3)
    for i in range(2):
        ce = torch.stack([
            -F.log_softmax(logits[b, i], dim=0)[labels[b][i]]
            for b in range(2)
        ])
        expected = (w[:, i] * ce).mean()
        assert losses[f'loss_head{i}'].item() == pytest.approx(
            expected.item(), rel=1e-5)


def test_loss_with_pixel_mix_uses_visible_ratio():
    head = _head(num_classes=3)
    feats = torch.randn(1, 4)
    s = DataSample()
    s.set_field(torch.tensor([0, 1]), 'member_gt_label')
    s.set_field(torch.tensor([2, 1]), 'member_mix_label')
    # member 0: its own image on the left half, the partner on the right
    pixel = torch.ones(2, 2, 2)
    pixel[0, :, 1] = 0
    s.set_field(pixel, 'member_pixel_mask')
    # feature mask: member 0 sees only the left column (its own pixels)
    masks = torch.zeros(1, 2, 2, 2)
    masks[0, 0, :, 0] = 1
    masks[0, 1] = 1 - masks[0, 0]
    kappa = torch.tensor([[0.5, 0.5]])
    losses = head.loss((feats, ), [s], masks=masks, kappa=kappa)
    logits = (feats @ head.fc.weight.t() + head.fc.bias).view(1, 2, 3)
    # member 0 keeps a pure label (all visible pixels are its own)
    expected0 = -F.log_softmax(logits[0, 0], 0)[0]
    assert losses['loss_head0'].item() == pytest.approx(
        expected0.item(), rel=1e-5)


def test_predict_is_softmax_of_mean_logits():
    head = _head(num_members=3, num_classes=5, in_channels=4)
    feats = torch.randn(2, 4)
    out = head.predict((feats, ))
    logits = (feats @ head.fc.weight.t() + head.fc.bias).view(2, 3, 5)
    expected = F.softmax(logits.mean(1), dim=1)
    for b, sample in enumerate(out):
        assert torch.allclose(sample.pred_score, expected[b], atol=1e-6)
        assert sample.pred_label.item() == expected[b].argmax().item()
        assert sample.head_logits.shape == (3, 5)
        assert torch.allclose(sample.head_logits, logits[b], atol=1e-6)


def test_errors_name_keys():
    with pytest.raises(ValueError, match='model.head.r'):
        MultiHeadClsHead(num_members=2, num_classes=3, in_channels=4, r=0)
    head = _head(num_classes=3)
    kappa = torch.full((1, 2), 0.5)
    with pytest.raises(KeyError, match='MixMoDataPreprocessor'):
        head.loss((torch.randn(1, 4), ), [DataSample().set_gt_label(1)],
                  masks=kappa.view(1, 2, 1, 1), kappa=kappa)
