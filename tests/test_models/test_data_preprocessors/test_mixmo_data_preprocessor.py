from collections import Counter

import pytest
import torch
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmmixmo.models.data_preprocessors.mixmo_data_preprocessor as module
from mmmixmo.datasets.samplers import BatchRepeatSampler
from mmmixmo.models.data_preprocessors import MixMoDataPreprocessor

# Image k has every pixel equal to VALUE_STEP * k and label LABEL_OFFSET + k,
# so both the image and the label a member received reveal the index k.
VALUE_STEP = 3
LABEL_OFFSET = 5


def make_batch(indices, size=8, channels=3):
    """A pseudo-collated batch of index-encoding (float) images."""
    inputs = [
        torch.full((channels, size, size), float(VALUE_STEP * k))
        for k in indices
    ]
    samples = [
        DataSample(metainfo=dict(sample_idx=k)).set_gt_label(LABEL_OFFSET + k)
        for k in indices
    ]
    return dict(inputs=inputs, data_samples=samples)


def image_index(images):
    """Index k encoded by constant images ``(..., C, H, W)``."""
    flat = images.flatten(-3)
    assert torch.equal(flat, flat[..., :1].expand_as(flat))
    return (flat[..., 0] / VALUE_STEP).round().long()


def test_registry_and_defaults():
    preprocessor = MODELS.build(dict(type='MixMoDataPreprocessor'))
    assert isinstance(preprocessor, MixMoDataPreprocessor)
    assert isinstance(preprocessor, ClsDataPreprocessor)
    assert preprocessor.num_members == 2
    assert preprocessor.input_repetition_prob == 0
    assert preprocessor.pixel_mix is None
    preprocessor = MixMoDataPreprocessor(pixel_mix=dict(type='Mixup'))
    assert preprocessor.pixel_mix == dict(type='Mixup', alpha=1.0, prob=0.5)


@pytest.mark.parametrize('num_members', [2, 3])
def test_member_pairing_with_batch_repetition(num_members):
    torch.manual_seed(0)
    num_repeats, batch_size = 4, 16
    batch_indices = next(
        iter(
            BatchRepeatSampler(
                torch.randperm(10).tolist(),
                batch_size=batch_size,
                num_repeats=num_repeats)))
    distinct = sorted(set(batch_indices))
    assert len(distinct) == 4
    preprocessor = MixMoDataPreprocessor(num_members=num_members)
    out = preprocessor(make_batch(batch_indices), training=True)
    inputs, samples = out['inputs'], out['data_samples']
    assert inputs.shape == (batch_size, num_members, 3, 8, 8)
    assert inputs.dtype == torch.float32
    assert len(samples) == batch_size
    seen = image_index(inputs)  # (B, M)
    for member in range(num_members):
        # Each member sees a permutation of the batch: every repeated image
        # exactly num_repeats times.
        assert sorted(seen[:, member].tolist()) == sorted(batch_indices)
        assert Counter(seen[:, member].tolist()) == {
            k: num_repeats
            for k in distinct
        }
    gt = torch.stack([s.member_gt_label for s in samples])
    mix = torch.stack([s.member_mix_label for s in samples])
    masks = torch.stack([s.member_pixel_mask for s in samples])
    assert gt.dtype == torch.long and gt.shape == (batch_size, num_members)
    assert mix.dtype == torch.long
    assert masks.dtype == torch.float32
    assert masks.shape == (batch_size, num_members, 1, 1)
    # Labels match the images each member received.
    assert torch.equal(gt, seen + LABEL_OFFSET)
    assert torch.equal(mix, gt)
    assert torch.all(masks == 1)
    # New samples carry the metainfo of member 0's image and no gt_label.
    for slot, sample in enumerate(samples):
        assert sample.sample_idx == seen[slot, 0].item()
        assert 'gt_label' not in sample


def test_members_are_independent_permutations():
    torch.manual_seed(1)
    preprocessor = MixMoDataPreprocessor(num_members=3)
    indices = list(range(32))
    out = preprocessor(make_batch(indices, size=2), training=True)
    seen = image_index(out['inputs'])
    for member in range(3):
        assert sorted(seen[:, member].tolist()) == indices
    # Member 0 is shuffled, and the members are paired differently.
    assert seen[:, 0].tolist() != indices
    assert not torch.equal(seen[:, 0], seen[:, 1])
    assert not torch.equal(seen[:, 1], seen[:, 2])
    # Independent uniform permutations: about 1 slot in 32 pairs an image
    # with itself; over 50 batches expect ~50 coincidences between members.
    same = 0
    for _ in range(50):
        seen = image_index(
            preprocessor(make_batch(indices, size=1), True)['inputs'])
        same += (seen[:, 0] == seen[:, 1]).sum().item()
    assert 20 <= same <= 90


def test_normalisation_matches_cls_data_preprocessor():
    torch.manual_seed(2)
    kwargs = dict(
        mean=[10., 20., 30.],
        std=[2., 3., 4.],
        to_rgb=True,
        pad_size_divisor=4)
    images = [
        torch.randint(0, 256, (3, 6, 7), dtype=torch.uint8) for _ in range(6)
    ]

    def batch():
        return dict(
            inputs=[img.clone() for img in images],
            data_samples=[DataSample().set_gt_label(k) for k in range(6)])

    reference = ClsDataPreprocessor(**kwargs)(batch(), training=True)['inputs']
    assert reference.shape == (6, 3, 8, 8)
    out = MixMoDataPreprocessor(**kwargs)(batch(), training=True)
    inputs = out['inputs']
    assert inputs.shape == (6, 2, 3, 8, 8)
    gt = torch.stack([s.member_gt_label for s in out['data_samples']])
    for slot in range(6):
        for member in range(2):
            # Images are random, so exactly one normalised image matches.
            matches = [
                k for k in range(6)
                if torch.allclose(inputs[slot, member], reference[k])
            ]
            assert matches == [gt[slot, member].item()]
    # Spot check the formula itself (BGR -> RGB flip, then normalise).
    k = gt[0, 0].item()
    expected = (images[k].flip(0).float() - torch.tensor([10., 20., 30.]).view(
        3, 1, 1)) / torch.tensor([2., 3., 4.]).view(3, 1, 1)
    assert torch.allclose(inputs[0, 0, :, :6, :7], expected)
    assert torch.all(inputs[0, 0, :, 6:, :] == 0)


def test_test_mode_is_cls_data_preprocessor():
    torch.manual_seed(3)
    kwargs = dict(mean=[1., 2., 3.], std=[4., 5., 6.])
    images = [
        torch.randint(0, 256, (3, 5, 5), dtype=torch.uint8) for _ in range(4)
    ]
    samples = [DataSample().set_gt_label(k) for k in range(4)]
    reference = ClsDataPreprocessor(**kwargs)(
        dict(inputs=list(images), data_samples=samples), training=False)
    preprocessor = MixMoDataPreprocessor(
        num_members=3,
        input_repetition_prob=1.0,
        pixel_mix=dict(type='CutMix', prob=1.0),
        **kwargs)
    out = preprocessor(
        dict(inputs=list(images), data_samples=samples), training=False)
    assert out['inputs'].shape == (4, 3, 5, 5)
    assert torch.equal(out['inputs'], reference['inputs'])
    assert out['data_samples'] is samples
    for k, sample in enumerate(out['data_samples']):
        assert sample.gt_label.tolist() == [k]
        assert 'member_gt_label' not in sample
    # Test mode needs no labels.
    out = preprocessor(dict(inputs=list(images)), training=False)
    assert torch.equal(out['inputs'], reference['inputs'])


def test_pixel_cutmix():
    torch.manual_seed(4)
    num_members, size = 2, 16
    preprocessor = MixMoDataPreprocessor(
        num_members=num_members,
        pixel_mix=dict(type='CutMix', alpha=1.0, prob=1.0))
    indices = list(range(24))
    out = preprocessor(make_batch(indices, size=size), training=True)
    inputs = out['inputs']
    samples = out['data_samples']
    gt = torch.stack([s.member_gt_label for s in samples])
    mix = torch.stack([s.member_mix_label for s in samples])
    masks = torch.stack([s.member_pixel_mask for s in samples])
    assert masks.shape == (24, num_members, size, size)
    assert masks.dtype == torch.float32
    assert torch.all((masks == 0) | (masks == 1))
    own_value = (gt - LABEL_OFFSET) * VALUE_STEP
    partner_value = (mix - LABEL_OFFSET) * VALUE_STEP
    # The pixels are exactly mask * own + (1 - mask) * partner.
    expected = (
        masks * own_value[..., None, None] +
        (1 - masks) * partner_value[..., None, None])
    assert torch.equal(inputs, expected.unsqueeze(2).expand_as(inputs))
    # Each member still sees a permutation of the batch as its own image.
    for member in range(num_members):
        assert sorted(
            gt[:, member].tolist()) == [i + LABEL_OFFSET for i in indices]
    differs = mix != gt
    assert differs.all()  # the partner is always another image
    num_boxes = 0
    for slot in range(24):
        for member in range(num_members):
            if not differs[slot, member]:
                continue
            image = inputs[slot, member, 0]
            pasted = image == partner_value[slot, member]
            # Mask mean == 1 - actual box area read from the pixels.
            assert masks[slot, member].mean() == 1 - pasted.float().mean()
            rows = pasted.any(1).nonzero().flatten()
            cols = pasted.any(0).nonzero().flatten()
            if rows.numel():
                num_boxes += 1
                # The pasted region is one axis-aligned rectangle.
                assert pasted.sum() == rows.numel() * cols.numel()
                assert rows.numel() == rows[-1] - rows[0] + 1
                assert cols.numel() == cols[-1] - cols[0] + 1
    assert num_boxes >= 20


def test_pixel_cutmix_requests_area_one_minus_lambda(monkeypatch):
    torch.manual_seed(5)
    requested = []
    original = module.cutmix_box_masks

    def recording(area, height, width, generator=None):
        requested.append(area.clone())
        return original(area, height, width)

    monkeypatch.setattr(module, 'cutmix_box_masks', recording)
    # alpha huge: lambda ~ Beta(alpha, alpha) is 0.5 within 1e-2.
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type='CutMix', alpha=1e4, prob=1.0))
    out = preprocessor(make_batch(range(8), size=16), training=True)
    assert len(requested) == 1
    assert requested[0].shape == (16, )
    assert torch.allclose(requested[0], torch.full((16, ), 0.5), atol=0.02)
    # Requested 0.5 -> side floor(16 * sqrt(0.5)) = 11 -> span 10: the box
    # covers at most 100 of the 256 pixels.
    masks = torch.stack([s.member_pixel_mask for s in out['data_samples']])
    assert torch.all(masks.mean((2, 3)) >= 1 - 100 / 256)
    # alpha = 1: lambda ~ U(0, 1), so the requested area is uniform.
    requested.clear()
    preprocessor = MixMoDataPreprocessor(
        num_members=4, pixel_mix=dict(type='CutMix', alpha=1.0, prob=1.0))
    preprocessor(make_batch(range(256), size=2), training=True)
    area = requested[0]
    assert area.shape == (1024, )
    assert 0.45 < area.mean() < 0.55
    assert 0.2 < (area < 0.25).float().mean() < 0.3


def test_pixel_mixup():
    torch.manual_seed(6)
    preprocessor = MixMoDataPreprocessor(
        num_members=3, pixel_mix=dict(type='Mixup', alpha=1.0, prob=1.0))
    out = preprocessor(make_batch(range(64), size=4), training=True)
    inputs = out['inputs']
    samples = out['data_samples']
    gt = torch.stack([s.member_gt_label for s in samples])
    mix = torch.stack([s.member_mix_label for s in samples])
    masks = torch.stack([s.member_pixel_mask for s in samples])
    assert masks.shape == (64, 3, 1, 1) and masks.dtype == torch.float32
    lam = masks[..., 0, 0]
    own = ((gt - LABEL_OFFSET) * VALUE_STEP).float()
    partner = ((mix - LABEL_OFFSET) * VALUE_STEP).float()
    # Constant image lam * own + (1 - lam) * partner.
    flat = inputs.flatten(2)
    assert torch.equal(flat, flat[..., :1].expand_as(flat))
    assert torch.allclose(
        flat[..., 0], lam * own + (1 - lam) * partner, atol=1e-4)
    # lambda ~ Beta(1, 1) = U(0, 1)
    assert 0.4 < lam.mean() < 0.6
    assert 0.22 < lam.std() < 0.36
    assert (mix != gt).float().mean() > 0.9
    # alpha huge -> lambda == 0.5
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type='Mixup', alpha=1e4, prob=1.0))
    out = preprocessor(make_batch(range(8)), training=True)
    masks = torch.stack([s.member_pixel_mask for s in out['data_samples']])
    assert torch.allclose(masks, torch.full_like(masks, 0.5), atol=0.03)


@pytest.mark.parametrize('mix_type', ['CutMix', 'Mixup'])
def test_pixel_mix_prob(mix_type):
    torch.manual_seed(7)
    size = 8 if mix_type == 'CutMix' else 1
    # prob = 0: nothing mixed.
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type=mix_type, prob=0.0))
    out = preprocessor(make_batch(range(16)), training=True)
    samples = out['data_samples']
    gt = torch.stack([s.member_gt_label for s in samples])
    masks = torch.stack([s.member_pixel_mask for s in samples])
    assert masks.shape == (16, 2, size, size)
    assert torch.all(masks == 1)
    assert torch.equal(torch.stack([s.member_mix_label for s in samples]), gt)
    assert torch.equal(image_index(out['inputs']), gt - LABEL_OFFSET)
    # prob = 0.5: about half of the 2 * 200 member inputs are mixed.
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type=mix_type, alpha=1.0, prob=0.5))
    out = preprocessor(make_batch(range(200), size=8), training=True)
    samples = out['data_samples']
    gt = torch.stack([s.member_gt_label for s in samples])
    mix = torch.stack([s.member_mix_label for s in samples])
    masks = torch.stack([s.member_pixel_mask for s in samples])
    mixed = (masks != 1).flatten(2).any(2)
    assert 0.4 < mixed.float().mean() < 0.6
    # A mixed input has the partner's label: never the own image.
    assert torch.all(mix[mixed] != gt[mixed])
    untouched = mix == gt
    own = image_index(out['inputs'][untouched])
    assert torch.equal(own + LABEL_OFFSET, gt[untouched])
    if mix_type == 'Mixup':
        # lambda < 1 almost surely: every applied mix shows in the mask.
        assert torch.equal(mixed | untouched, torch.ones_like(mixed))


@pytest.mark.parametrize('with_sample_idx', [True, False])
def test_pixel_mix_partner_is_another_image(with_sample_idx):
    """With batch repetition the copies of the own image are no partners."""
    torch.manual_seed(3)
    preprocessor = MixMoDataPreprocessor(
        num_members=3, pixel_mix=dict(type='Mixup', alpha=1.0, prob=1.0))
    indices = [k for k in range(8) for _ in range(4)]  # b = 4, B = 32
    batch = make_batch(indices, size=2)
    if not with_sample_idx:
        for sample in batch['data_samples']:
            del sample.sample_idx
    partners, owns = [], []
    for _ in range(20):
        out = preprocessor(batch, training=True)
        gt = torch.stack([s.member_gt_label for s in out['data_samples']])
        mix = torch.stack([s.member_mix_label for s in out['data_samples']])
        if with_sample_idx:
            assert torch.all(mix != gt)
        partners.append(mix - LABEL_OFFSET)
        owns.append(gt - LABEL_OFFSET)
    partners = torch.stack(partners)
    # Without sample_idx the slots count as distinct images, so a copy of
    # the own image can be a partner: 3 of the 31 other slots.
    own_copies = (partners == torch.stack(owns)).float()
    if with_sample_idx:
        assert own_copies.sum() == 0
    else:
        assert 0.04 < own_copies.mean() < 0.16  # 3 / 31 = 0.097
    # Uniform over the other images: each of the 8 images is drawn.
    assert set(partners.flatten().tolist()) == set(range(8))


def test_pixel_mix_partner_when_the_batch_is_one_image():
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type='Mixup', alpha=1.0, prob=1.0))
    out = preprocessor(make_batch([5, 5, 5, 5], size=2), training=True)
    mix = torch.stack([s.member_mix_label for s in out['data_samples']])
    assert torch.all(mix == LABEL_OFFSET + 5)  # no other image: any slot


def test_input_repetition():
    torch.manual_seed(8)
    preprocessor = MixMoDataPreprocessor(
        num_members=3, input_repetition_prob=1.0)
    out = preprocessor(make_batch(range(16)), training=True)
    inputs = out['inputs']
    for member in range(1, 3):
        assert torch.equal(inputs[:, member], inputs[:, 0])
    gt = torch.stack([s.member_gt_label for s in out['data_samples']])
    assert torch.equal(gt, gt[:, :1].expand(-1, 3))
    assert sorted(image_index(inputs[:, 0]).tolist()) == list(range(16))
    # prob 0.5: repeated slots have identical members, and the rate is ~0.5.
    preprocessor = MixMoDataPreprocessor(
        num_members=3, input_repetition_prob=0.5)
    out = preprocessor(make_batch(range(200), size=1), training=True)
    seen = image_index(out['inputs'])
    identical = (seen == seen[:, :1]).all(1)
    assert 0.4 < identical.float().mean() < 0.6
    assert sorted(seen[:, 0].tolist()) == list(range(200))


@pytest.mark.parametrize('kwargs, match', [
    (dict(input_repetition_prob=1.5),
     r'model\.data_preprocessor\.input_repetition_prob'),
    (dict(input_repetition_prob=-0.1),
     r'model\.data_preprocessor\.input_repetition_prob'),
    (dict(pixel_mix=dict(type='FMix')),
     r'model\.data_preprocessor\.pixel_mix'),
    (dict(pixel_mix=dict(alpha=1.0)), r'model\.data_preprocessor\.pixel_mix'),
    (dict(pixel_mix=dict(type='CutMix', alpha=0.0)),
     r'model\.data_preprocessor\.pixel_mix'),
    (dict(pixel_mix=dict(type='Mixup', prob=1.5)),
     r'model\.data_preprocessor\.pixel_mix'),
    (dict(pixel_mix=dict(type='Mixup', probability=0.5)),
     r'model\.data_preprocessor\.pixel_mix'),
    (dict(batch_augments=dict(augments=[dict(type='CutMix', alpha=1.0)])),
     r'model\.data_preprocessor\.batch_augments.*pixel_mix'),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MixMoDataPreprocessor(**kwargs)


def test_labels_outside_the_classes():
    # labels are LABEL_OFFSET + k: 5..8; with 8 classes label 8 is rejected
    preprocessor = MixMoDataPreprocessor(num_classes=8)
    with pytest.raises(ValueError, match=r'\[0, 8\).*got \[5, 8\]'):
        preprocessor(make_batch(range(4)), training=True)
    MixMoDataPreprocessor(num_classes=9)(make_batch(range(4)), training=True)
