import os.path as osp
from collections import Counter

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample

import mmmixmo.models.data_preprocessors.mixmo_data_preprocessor as module
from mmmixmo.models.data_preprocessors import MixMoDataPreprocessor
from tests.conftest import REPO_ROOT
from tests.utils.fake_cifar import make_fake_cifar100

# View r of member i of image k is constant per channel: channel 0 is
# VALUE_STEP * k, channel 1 is i, channel 2 is r; image k has label
# LABEL_OFFSET + k. Every member input reveals exactly which view it is.
VALUE_STEP = 3
LABEL_OFFSET = 5


def make_batch(indices,
               num_members=2,
               num_repeats=1,
               size=8,
               collate=pseudo_collate):
    """A training batch of view-encoding (float) images, as collated from
    ``MemberViews`` + ``PackInputs``: ``inputs[i][r]`` is a list of n
    ``(3, size, size)`` tensors (``pseudo_collate``) or an
    ``(n, 3, size, size)`` tensor (``default_collate``)."""
    results = []
    for k in indices:
        views = [[
            torch.tensor([VALUE_STEP * k, i, r], dtype=torch.float32).view(
                3, 1, 1).expand(3, size, size).clone()
            for r in range(num_repeats)
        ] for i in range(num_members)]
        sample = DataSample(metainfo=dict(sample_idx=k)).set_gt_label(
            LABEL_OFFSET + k)
        results.append(dict(inputs=views, data_samples=sample))
    batch = collate(results)
    return batch


def decode(images):
    """``(image k, member i, repeat r)`` of constant views ``(..., 3, H, W)``.

    Returns:
        tuple[Tensor, Tensor, Tensor]: Long tensors of shape ``(...)``.
    """
    flat = images.flatten(-2)
    assert torch.equal(flat, flat[..., :1].expand_as(flat))
    codes = flat[..., 0].round().long()
    return codes[..., 0] // VALUE_STEP, codes[..., 1], codes[..., 2]


def stacked(samples, key):
    return torch.stack([s.get(key) for s in samples])


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
    num_repeats, indices = 4, [7, 2, 9, 4]
    preprocessor = MixMoDataPreprocessor(num_members=num_members)
    out = preprocessor(
        make_batch(indices, num_members, num_repeats), training=True)
    inputs, samples = out['inputs'], out['data_samples']
    assert inputs.shape == (16, num_members, 3, 8, 8)
    assert inputs.dtype == torch.float32
    assert len(samples) == 16
    image, member, repeat = decode(inputs)  # (B, M) each
    for i in range(num_members):
        # member i sees its own views only, each of them exactly once:
        # every image b times, each time in another view
        assert torch.all(member[:, i] == i)
        assert Counter(zip(image[:, i].tolist(), repeat[:, i].tolist())) \
            == {(k, r): 1 for k in indices for r in range(num_repeats)}
    gt = stacked(samples, 'member_gt_label')
    mix = stacked(samples, 'member_mix_label')
    masks = stacked(samples, 'member_pixel_mask')
    assert gt.dtype == torch.long and gt.shape == (16, num_members)
    assert mix.dtype == torch.long
    assert masks.dtype == torch.float32
    assert masks.shape == (16, num_members, 1, 1)
    # labels match the images each member received
    assert torch.equal(gt, image + LABEL_OFFSET)
    assert torch.equal(mix, gt)
    assert torch.all(masks == 1)
    # new samples carry the metainfo of member 0's image and no gt_label
    for slot, sample in enumerate(samples):
        assert sample.sample_idx == image[slot, 0].item()
        assert 'gt_label' not in sample


def test_member_inputs_follow_the_pairing(monkeypatch):
    """Member i of slot j sees its own input ``pairing[i, j]``, input k
    being view ``k // n`` of image ``k % n`` (repeat-major)."""
    indices, num_repeats = [10, 11, 12], 2  # n = 3, B = 6
    pairing = torch.tensor([[5, 0, 3, 1, 4, 2], [2, 2, 0, 5, 1, 3]])
    monkeypatch.setattr(MixMoDataPreprocessor, 'pair_members',
                        lambda self, batch_size: pairing.clone())
    out = MixMoDataPreprocessor()(
        make_batch(indices, 2, num_repeats), training=True)
    image, member, repeat = decode(out['inputs'])
    assert torch.equal(image.T, torch.tensor(indices)[pairing % 3])
    assert torch.equal(repeat.T, pairing // 3)
    assert torch.equal(member.T, torch.tensor([[0] * 6, [1] * 6]))
    gt = stacked(out['data_samples'], 'member_gt_label')
    assert torch.equal(gt, image + LABEL_OFFSET)
    assert [s.sample_idx for s in out['data_samples']] == \
        [indices[k % 3] for k in pairing[0].tolist()]


def test_pairing_is_drawn_by_pair_members():
    preprocessor = MixMoDataPreprocessor(num_members=3)
    batch = make_batch(range(8), 3, 2, size=2)
    torch.manual_seed(11)
    pairing = preprocessor.pair_members(16)
    assert pairing.shape == (3, 16) and pairing.dtype == torch.long
    torch.manual_seed(11)
    image, _, repeat = decode(preprocessor(batch, training=True)['inputs'])
    assert torch.equal(image.T, pairing % 8)
    assert torch.equal(repeat.T, pairing // 8)


def test_members_are_independent_permutations():
    torch.manual_seed(1)
    preprocessor = MixMoDataPreprocessor(num_members=3)
    indices = list(range(32))
    out = preprocessor(make_batch(indices, 3, size=2), training=True)
    seen = decode(out['inputs'])[0]
    for member in range(3):
        assert sorted(seen[:, member].tolist()) == indices
    # member 0 is shuffled, and the members are paired differently
    assert seen[:, 0].tolist() != indices
    assert not torch.equal(seen[:, 0], seen[:, 1])
    assert not torch.equal(seen[:, 1], seen[:, 2])
    # Independent uniform permutations: about 1 slot in 32 pairs an image
    # with itself; over 50 batches expect ~50 coincidences between members.
    same = 0
    batch = make_batch(indices, 3, size=1)
    for _ in range(50):
        seen = decode(preprocessor(batch, True)['inputs'])[0]
        same += (seen[:, 0] == seen[:, 1]).sum().item()
    assert 20 <= same <= 90


def test_normalisation_matches_cls_data_preprocessor():
    torch.manual_seed(2)
    kwargs = dict(
        mean=[10., 20., 30.],
        std=[2., 3., 4.],
        to_rgb=True,
        pad_size_divisor=4)
    num_members, num_repeats, num_images = 2, 2, 3
    # views[i][r][k]: random uint8, so every view is distinct
    views = [[[
        torch.randint(0, 256, (3, 6, 7), dtype=torch.uint8)
        for _ in range(num_images)
    ] for _ in range(num_repeats)] for _ in range(num_members)]
    flat = [view for member in views for repeat in member for view in repeat]
    samples = [DataSample().set_gt_label(k) for k in range(num_images)]
    reference = ClsDataPreprocessor(**kwargs)(
        dict(inputs=[v.clone() for v in flat], data_samples=samples),
        training=True)['inputs']
    assert reference.shape == (12, 3, 8, 8)
    out = MixMoDataPreprocessor(**kwargs)(
        dict(
            inputs=[[[v.clone() for v in repeat] for repeat in member]
                    for member in views],
            data_samples=[DataSample().set_gt_label(k)
                          for k in range(num_images)]),
        training=True)
    inputs = out['inputs']
    assert inputs.shape == (6, 2, 3, 8, 8)
    gt = stacked(out['data_samples'], 'member_gt_label')
    seen = {member: [] for member in range(num_members)}
    for slot in range(6):
        for member in range(num_members):
            matches = [
                j for j in range(12)
                if torch.equal(inputs[slot, member], reference[j])
            ]
            # flat index j = (member * b + r) * n + k
            assert len(matches) == 1
            j = matches[0]
            assert j // (num_repeats * num_images) == member
            assert j % num_images == gt[slot, member].item()
            seen[member].append(j)
    for member in range(num_members):
        assert sorted(seen[member]) == list(range(6 * member, 6 * member + 6))
    # the formula itself (BGR -> RGB flip, then normalise, pad with 0)
    j = seen[0][0]
    expected = (flat[j].flip(0).float() - torch.tensor(
        [10., 20., 30.]).view(3, 1, 1)) / torch.tensor([2., 3., 4.]).view(
            3, 1, 1)
    assert torch.allclose(inputs[0, 0, :, :6, :7], expected)
    assert torch.all(inputs[0, 0, :, 6:, :] == 0)
    assert torch.all(inputs[0, 0, :, :, 7:] == 0)


def test_default_collate_gives_the_pseudo_collate_output():
    preprocessor = MixMoDataPreprocessor(
        num_members=3,
        input_repetition_prob=0.5,
        pixel_mix=dict(type='CutMix', prob=0.5),
        mean=[1., 2., 3.],
        std=[2., 2., 2.])
    outs = []
    for collate in (pseudo_collate, default_collate):
        batch = make_batch(range(6), 3, 2, collate=collate)
        assert len(batch['inputs']) == 3 and len(batch['inputs'][0]) == 2
        if collate is default_collate:
            assert batch['inputs'][2][1].shape == (6, 3, 8, 8)
        else:
            assert len(batch['inputs'][2][1]) == 6
        torch.manual_seed(12)
        outs.append(preprocessor(batch, training=True))
    assert outs[0]['inputs'].shape == (12, 3, 3, 8, 8)
    assert torch.equal(outs[0]['inputs'], outs[1]['inputs'])
    for key in ('member_gt_label', 'member_mix_label', 'member_pixel_mask'):
        assert torch.equal(
            stacked(outs[0]['data_samples'], key),
            stacked(outs[1]['data_samples'], key))
    # the mixing really happened (a regression would compare trivially)
    masks = stacked(outs[0]['data_samples'], 'member_pixel_mask')
    assert 0 < (masks != 1).flatten(2).any(2).float().mean() < 1


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
    # test mode needs no labels
    out = preprocessor(dict(inputs=list(images)), training=False)
    assert torch.equal(out['inputs'], reference['inputs'])


@pytest.mark.parametrize('inputs', [
    [torch.zeros(3, 4, 4, dtype=torch.uint8)] * 2,
    torch.zeros(2, 3, 4, 4, dtype=torch.uint8),
],
                         ids=['pseudo_collate', 'default_collate'])
def test_flat_batch_is_a_type_error(inputs):
    """The pre-MemberViews format: one augmented tensor per slot."""
    samples = [DataSample().set_gt_label(k) for k in range(2)]
    with pytest.raises(TypeError, match=r"type='MemberViews'"):
        MixMoDataPreprocessor()(
            dict(inputs=inputs, data_samples=samples), training=True)


@pytest.mark.parametrize('views, members', [(3, 2), (2, 3)])
def test_member_count_mismatch(views, members):
    preprocessor = MixMoDataPreprocessor(num_members=members)
    with pytest.raises(
            ValueError,
            match=rf'MemberViews\.num_members={views} .*'
            rf'model\.num_members={members}'):
        preprocessor(make_batch(range(4), views, 2), training=True)


def test_pixel_cutmix():
    num_members, num_repeats, size = 2, 2, 16
    preprocessor = MixMoDataPreprocessor(
        num_members=num_members,
        pixel_mix=dict(type='CutMix', alpha=1.0, prob=1.0))
    indices = list(range(12))
    out = preprocessor(
        make_batch(indices, num_members, num_repeats, size), training=True)
    inputs, samples = out['inputs'], out['data_samples']
    gt = stacked(samples, 'member_gt_label')
    mix = stacked(samples, 'member_mix_label')
    masks = stacked(samples, 'member_pixel_mask')
    assert inputs.shape == (24, num_members, 3, size, size)
    assert masks.shape == (24, num_members, size, size)
    assert masks.dtype == torch.float32
    assert torch.all((masks == 0) | (masks == 1))
    differs = mix != gt
    assert differs.all()  # the partner is always another image
    num_boxes = 0
    own_views = {member: [] for member in range(num_members)}
    for slot in range(24):
        for member in range(num_members):
            image, mask = inputs[slot, member], masks[slot, member]
            own = image[:, mask == 1].T  # (pixels, 3) codes
            pasted = image[:, mask == 0].T
            # the own pixels are one view of the member's own image
            assert torch.equal(own, own[:1].expand_as(own))
            k, i, r = own[0].long().tolist()
            assert (k // VALUE_STEP + LABEL_OFFSET, i) == \
                (gt[slot, member].item(), member)
            own_views[member].append((k // VALUE_STEP, r))
            if not pasted.numel():
                continue
            # the pasted pixels are one view, of the same member, of the
            # partner image: mask * own + (1 - mask) * partner exactly
            assert torch.equal(pasted, pasted[:1].expand_as(pasted))
            k, i, r = pasted[0].long().tolist()
            assert (k // VALUE_STEP + LABEL_OFFSET, i) == \
                (mix[slot, member].item(), member)
            assert r in range(num_repeats)
            num_boxes += 1
            # the pasted region is one axis-aligned rectangle
            rows = (mask == 0).any(1).nonzero().flatten()
            cols = (mask == 0).any(0).nonzero().flatten()
            assert pasted.shape[0] == rows.numel() * cols.numel()
            assert rows.numel() == rows[-1] - rows[0] + 1
            assert cols.numel() == cols[-1] - cols[0] + 1
    # each member still sees each of its views once as its own image
    for member in range(num_members):
        assert sorted(own_views[member]) == [(k, r) for k in indices
                                             for r in range(num_repeats)]
    assert num_boxes >= 30


def test_pixel_cutmix_requests_area_one_minus_lambda(monkeypatch):
    torch.manual_seed(5)
    requested = []
    original = module.cutmix_box_masks

    def recording(area, height, width, generator=None):
        requested.append(area.clone())
        return original(area, height, width)

    monkeypatch.setattr(module, 'cutmix_box_masks', recording)
    # alpha huge: lambda ~ Beta(alpha, alpha) is 0.5 within 1e-2
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type='CutMix', alpha=1e4, prob=1.0))
    out = preprocessor(make_batch(range(4), 2, 2, size=16), training=True)
    assert len(requested) == 1
    assert requested[0].shape == (16, )
    assert torch.allclose(requested[0], torch.full((16, ), 0.5), atol=0.02)
    # Requested 0.5 -> side floor(16 * sqrt(0.5)) = 11 -> span 10: the box
    # covers at most 100 of the 256 pixels.
    masks = stacked(out['data_samples'], 'member_pixel_mask')
    assert torch.all(masks.mean((2, 3)) >= 1 - 100 / 256)
    # alpha = 1: lambda ~ U(0, 1), so the requested area is uniform
    requested.clear()
    preprocessor = MixMoDataPreprocessor(
        num_members=4, pixel_mix=dict(type='CutMix', alpha=1.0, prob=1.0))
    preprocessor(make_batch(range(128), 4, 2, size=2), training=True)
    area = requested[0]
    assert area.shape == (1024, )
    assert 0.45 < area.mean() < 0.55
    assert 0.2 < (area < 0.25).float().mean() < 0.3


def test_pixel_mixup():
    torch.manual_seed(6)
    preprocessor = MixMoDataPreprocessor(
        num_members=3, pixel_mix=dict(type='Mixup', alpha=1.0, prob=1.0))
    out = preprocessor(make_batch(range(32), 3, 2, size=4), training=True)
    inputs, samples = out['inputs'], out['data_samples']
    gt = stacked(samples, 'member_gt_label')
    mix = stacked(samples, 'member_mix_label')
    masks = stacked(samples, 'member_pixel_mask')
    assert masks.shape == (64, 3, 1, 1) and masks.dtype == torch.float32
    lam = masks[..., 0, 0]
    own = ((gt - LABEL_OFFSET) * VALUE_STEP).float()
    partner = ((mix - LABEL_OFFSET) * VALUE_STEP).float()
    # constant channels: lam * own + (1 - lam) * partner
    flat = inputs.flatten(3)
    assert torch.equal(flat, flat[..., :1].expand_as(flat))
    flat = flat[..., 0]  # (B, M, 3)
    assert torch.allclose(
        flat[..., 0], lam * own + (1 - lam) * partner, atol=1e-4)
    # the partner is a view of the same member (channel 1 stays i) ...
    assert torch.allclose(flat[..., 1], torch.arange(3.).expand(64, 3))
    # ... in one of its b = 2 views
    assert torch.all((flat[..., 2] >= 0) & (flat[..., 2] <= 1))
    # lambda ~ Beta(1, 1) = U(0, 1)
    assert 0.4 < lam.mean() < 0.6
    assert 0.22 < lam.std() < 0.36
    assert torch.all(mix != gt)
    # alpha huge -> lambda == 0.5
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type='Mixup', alpha=1e4, prob=1.0))
    out = preprocessor(make_batch(range(8)), training=True)
    masks = stacked(out['data_samples'], 'member_pixel_mask')
    assert torch.allclose(masks, torch.full_like(masks, 0.5), atol=0.03)


@pytest.mark.parametrize('mix_type', ['CutMix', 'Mixup'])
def test_pixel_mix_prob(mix_type):
    torch.manual_seed(7)
    size = 8 if mix_type == 'CutMix' else 1
    # prob = 0: nothing mixed
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type=mix_type, prob=0.0))
    out = preprocessor(make_batch(range(8), 2, 2), training=True)
    samples = out['data_samples']
    gt = stacked(samples, 'member_gt_label')
    masks = stacked(samples, 'member_pixel_mask')
    assert masks.shape == (16, 2, size, size)
    assert torch.all(masks == 1)
    assert torch.equal(stacked(samples, 'member_mix_label'), gt)
    assert torch.equal(decode(out['inputs'])[0], gt - LABEL_OFFSET)
    # prob = 0.5: about half of the 2 * 200 member inputs are mixed
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type=mix_type, alpha=1.0, prob=0.5))
    out = preprocessor(make_batch(range(100), 2, 2), training=True)
    samples = out['data_samples']
    gt = stacked(samples, 'member_gt_label')
    mix = stacked(samples, 'member_mix_label')
    masks = stacked(samples, 'member_pixel_mask')
    mixed = (masks != 1).flatten(2).any(2)
    assert 0.4 < mixed.float().mean() < 0.6
    # a mixed input has the partner's label: never the own image
    assert torch.all(mix[mixed] != gt[mixed])
    untouched = mix == gt
    image, member, _ = decode(out['inputs'][untouched])
    assert torch.equal(image + LABEL_OFFSET, gt[untouched])
    assert torch.equal(member, untouched.nonzero()[:, 1])
    if mix_type == 'Mixup':
        # lambda < 1 almost surely: every applied mix shows in the mask
        assert torch.equal(mixed | untouched, torch.ones_like(mixed))


@pytest.mark.parametrize('with_sample_idx', [True, False])
def test_pixel_mix_partner_is_another_image(with_sample_idx):
    """The other views of the own image are no partners."""
    torch.manual_seed(3)
    preprocessor = MixMoDataPreprocessor(
        num_members=3, pixel_mix=dict(type='Mixup', alpha=1.0, prob=1.0))
    batch = make_batch(range(8), 3, 4, size=2)  # b = 4, B = 32
    if not with_sample_idx:
        for sample in batch['data_samples']:
            del sample.sample_idx
    partners, owns = [], []
    for _ in range(20):
        out = preprocessor(batch, training=True)
        gt = stacked(out['data_samples'], 'member_gt_label')
        mix = stacked(out['data_samples'], 'member_mix_label')
        partners.append(mix - LABEL_OFFSET)
        owns.append(gt - LABEL_OFFSET)
    partners = torch.stack(partners)
    # without sample_idx the batch position tells the images apart
    assert (partners == torch.stack(owns)).sum() == 0
    # uniform over the other images: each of the 8 images is drawn
    assert set(partners.flatten().tolist()) == set(range(8))


def test_pixel_mix_partner_when_the_batch_is_one_image():
    preprocessor = MixMoDataPreprocessor(
        pixel_mix=dict(type='Mixup', alpha=1.0, prob=1.0))
    out = preprocessor(make_batch([5], 2, 4, size=2), training=True)
    assert out['inputs'].shape == (4, 2, 3, 2, 2)
    mix = stacked(out['data_samples'], 'member_mix_label')
    assert torch.all(mix == LABEL_OFFSET + 5)  # no other image: any input
    # mixed with the member's own other views: still image 5, member i
    flat = out['inputs'].flatten(3)[..., 0]
    assert torch.allclose(flat[..., 0], torch.full((4, 2), 5. * VALUE_STEP))
    assert torch.allclose(flat[..., 1], torch.tensor([0., 1.]).expand(4, 2))


def test_input_repetition():
    torch.manual_seed(8)
    preprocessor = MixMoDataPreprocessor(
        num_members=3, input_repetition_prob=1.0)
    out = preprocessor(make_batch(range(8), 3, 2), training=True)
    image, member, repeat = decode(out['inputs'])
    # every member sees member 0's image, in its own view of it
    for i in range(1, 3):
        assert not torch.equal(out['inputs'][:, i], out['inputs'][:, 0])
        assert torch.equal(image[:, i], image[:, 0])
        assert torch.equal(repeat[:, i], repeat[:, 0])
        assert torch.all(member[:, i] == i)
    assert torch.all(member[:, 0] == 0)
    gt = stacked(out['data_samples'], 'member_gt_label')
    assert torch.equal(gt, gt[:, :1].expand(-1, 3))
    assert torch.equal(gt, image + LABEL_OFFSET)
    assert sorted(zip(image[:, 0].tolist(), repeat[:, 0].tolist())) == \
        [(k, r) for k in range(8) for r in range(2)]
    # prob 0.5: repeated slots have the same image, the rate is ~0.5
    preprocessor = MixMoDataPreprocessor(
        num_members=3, input_repetition_prob=0.5)
    out = preprocessor(make_batch(range(100), 3, 2, size=1), training=True)
    image, member, repeat = decode(out['inputs'])
    identical = ((image == image[:, :1]) & (repeat == repeat[:, :1])).all(1)
    assert 0.4 < identical.float().mean() < 0.6
    assert torch.equal(member, torch.arange(3).expand(200, 3))
    # and every member still sees each of its 200 inputs once
    for i in range(3):
        assert sorted(zip(image[:, i].tolist(), repeat[:, i].tolist())) == \
            [(k, r) for k in range(100) for r in range(2)]


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
        preprocessor(make_batch(range(4), 2, 2), training=True)
    MixMoDataPreprocessor(num_classes=9)(
        make_batch(range(4), 2, 2), training=True)


def _all_augmentations(img: np.ndarray) -> np.ndarray:
    """The 9 x 9 x 2 = 162 RandomCrop(32, padding=4) + horizontal flip
    results of an ``(32, 32, 3)`` image: ``(162, 3, 32, 32)`` uint8."""
    padded = np.pad(img, ((4, 4), (4, 4), (0, 0)))
    crops = [
        padded[top:top + 32, left:left + 32] for top in range(9)
        for left in range(9)
    ]
    views = crops + [crop[:, ::-1] for crop in crops]
    return np.stack(views).transpose(0, 3, 1, 2)


def test_real_dataloader_gives_every_member_input_its_own_view(tmp_path):
    """Cut-MixMo CIFAR-100 b = 4: one step of the real dataloader (16
    random-noise images) through the config's preprocessor."""
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'mixmo',
                 'cut-mixmo_wrn28-10_1xb64-b4_cifar100.py'))
    init_default_scope('mmpretrain')
    data_root = make_fake_cifar100(str(tmp_path), num_train=48, num_test=4)
    dataset = dict(
        cfg.train_dataloader.dataset,
        type='LocalCIFAR100',
        data_root=data_root,
        check_md5=False)
    loader = Runner.build_dataloader(
        dict(
            cfg.train_dataloader,
            dataset=dataset,
            num_workers=0,
            persistent_workers=False),
        seed=0)
    batch = next(iter(loader))
    num_members, num_repeats, num_images = 2, 4, 16
    assert len(batch['inputs']) == num_members
    assert all(len(member) == num_repeats for member in batch['inputs'])
    assert len(batch['inputs'][1][3]) == num_images
    assert batch['inputs'][1][3][0].shape == (3, 32, 32)
    assert batch['inputs'][1][3][0].dtype == torch.uint8
    model = MODELS.build(
        dict(
            cfg.model,
            backbone=dict(cfg.model.backbone, depth=10, widen_factor=1),
            head=dict(cfg.model.head, in_channels=64)))
    preprocessor = model.data_preprocessor
    assert isinstance(preprocessor, MixMoDataPreprocessor)
    assert preprocessor.num_members == num_members
    out = preprocessor(batch, training=True)
    inputs, samples = out['inputs'], out['data_samples']
    assert inputs.shape == (64, num_members, 3, 32, 32)
    assert len(samples) == 64

    # Every member input is bit-identical to exactly one of the 162
    # augmentations of exactly one of the batch's 16 images, normalised
    # as the preprocessor does.
    data = DATASETS.build(dataset)
    indices = [s.sample_idx for s in batch['data_samples']]
    assert len(set(indices)) == num_images
    lookup = {}
    for idx in indices:
        views = torch.from_numpy(
            _all_augmentations(data.get_data_info(idx)['img']))
        normalised = (views.float() - preprocessor.mean) / preprocessor.std
        for aug, view in enumerate(normalised):
            lookup.setdefault(view.numpy().tobytes(), []).append((idx, aug))
    assert len(lookup) == num_images * 162  # all distinct (random noise)
    labels = {idx: data.get_data_info(idx)['gt_label'] for idx in indices}
    gt = stacked(samples, 'member_gt_label')
    found = [[None] * num_members for _ in range(64)]
    for slot in range(64):
        for member in range(num_members):
            (idx, aug), = lookup[inputs[slot, member].numpy().tobytes()]
            found[slot][member] = (idx, aug)
            assert gt[slot, member].item() == labels[idx]
        assert samples[slot].sample_idx == found[slot][0][0]
    for member in range(num_members):
        assert Counter(f[member][0] for f in found) == {
            idx: num_repeats
            for idx in indices
        }
    # Bit-identical (member-0 input, member-1 input) pairs: chance level is
    # 64 x 4 / 162 = 1.6 (the members shared one view per slot: >= 64).
    member0 = Counter(view.numpy().tobytes() for view in inputs[:, 0])
    identical = sum(member0[view.numpy().tobytes()] for view in inputs[:, 1])
    assert identical <= 8
