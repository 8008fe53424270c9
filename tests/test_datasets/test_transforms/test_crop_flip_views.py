"""MemberViews' fused RandomResizedCrop + RandomFlip against mmpretrain's."""
import pickle

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import init_default_scope
from mmpretrain.datasets.transforms import EfficientNetRandomCrop
from mmpretrain.registry import TRANSFORMS

from mmmixmo.datasets.transforms import MemberViews
from mmmixmo.datasets.transforms.crop_flip_views import CropFlipViews

IMAGENET = [
    dict(type='RandomResizedCrop', scale=224),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
# (transforms, image shape, dtype)
CASES = [
    (IMAGENET, (350, 400, 3), np.uint8),
    (IMAGENET, (500, 333, 3), np.uint8),  # upscaled crops too
    # (h, w) = (20, 30), bicubic, every flip direction
    ([dict(type='RandomResizedCrop', scale=(20, 30), interpolation='bicubic',
           crop_ratio_range=(0.3, 0.9), aspect_ratio_range=(0.5, 2.0)),
      dict(type='RandomFlip', prob=[0.3, 0.2, 0.4],
           direction=['horizontal', 'vertical', 'diagonal'])],
     (41, 37, 3), np.uint8),
    ([dict(type='RandomResizedCrop', scale=16),
      dict(type='RandomFlip', prob=0.9, direction=['vertical', 'diagonal'])],
     (40, 50), np.uint8),  # grayscale
    ([dict(type='RandomResizedCrop', scale=16, interpolation='area')],
     (40, 50, 1), np.float32),  # no flip; cv2 drops the channel axis
    ([dict(type='RandomResizedCrop', scale=12),
      dict(type='RandomFlip', prob=1.0)], (30, 20, 4), np.uint16),
    # few or no attempts fit: mmpretrain's central crops
    ([dict(type='RandomResizedCrop', scale=8, max_attempts=0)],
     (90, 10, 3), np.uint8),
    ([dict(type='RandomResizedCrop', scale=8, max_attempts=0)],
     (10, 90, 3), np.uint8),
    ([dict(type='RandomResizedCrop', scale=8, max_attempts=0)],
     (20, 22, 3), np.uint8),
    ([dict(type='RandomResizedCrop', scale=8, max_attempts=2,
           crop_ratio_range=(0.9, 1.0), aspect_ratio_range=(0.2, 5.0)),
      dict(type='RandomFlip', prob=0.5)], (24, 26, 3), np.uint8),
]


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    init_default_scope('mmpretrain')


def random_image(shape, dtype, seed=0):
    """Noise plus gradients, so that crops and flips differ."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    ramp = (rows * 3 + cols * 5).reshape(shape[:2] + (1, ) * (len(shape) - 2))
    return ((rng.integers(0, 64, shape) + ramp) % 256).astype(dtype)


@pytest.mark.parametrize('transforms, shape, dtype', CASES)
def test_same_views_as_mmpretrain_for_the_same_draws(
        transforms, shape, dtype):
    # 100 views: 4 members x b = 25
    views = MemberViews(transforms, num_repeats=25, num_members=4)
    assert isinstance(views.fused, CropFlipViews)
    image = random_image(shape, dtype)
    np.random.seed(123)
    out = views(dict(img=image.copy(), img_shape=shape[:2]))
    after = np.random.get_state()
    # mmpretrain's transforms view after view, member-major
    np.random.seed(123)
    reference = [TRANSFORMS.build(t) for t in transforms]
    expected = []
    for _ in range(100):
        results = dict(img=image.copy())
        for transform in reference:
            results = transform(results)
        expected.append(results['img'])
    assert [len(member) for member in out['img']] == [25] * 4
    got = [view for member in out['img'] for view in member]
    for view, want in zip(got, expected):
        assert view.shape == want.shape and view.dtype == want.dtype
        np.testing.assert_array_equal(view, want)
    if transforms[0].get('max_attempts') != 0:  # else a central crop
        assert len({view.tobytes() for view in got}) > 1
    # the same numbers drawn from numpy's global generator
    state = np.random.get_state()
    assert all(np.array_equal(a, b) for a, b in zip(after, state))
    assert out['img_shape'] == shape[:2]  # the decoded image's keys


def test_views_are_one_channel_first_array_packed_without_copy():
    # each image's 4 views are the slices of one (4, 3, 224, 224) array,
    # which PackInputs and the collate functions take as they are
    pack = TRANSFORMS.build(dict(type='PackInputs'))
    views = MemberViews(IMAGENET, num_repeats=2, num_members=2)
    packed = []
    for seed in range(3):
        results = views(dict(img=random_image((350, 400, 3), np.uint8, seed),
                             gt_label=seed))
        flat = [view for member in results['img'] for view in member]
        start = flat[0].ctypes.data
        for k, view in enumerate(flat):
            assert view.shape == (224, 224, 3) and view.dtype == np.uint8
            assert view.ctypes.data == start + k * 3 * 224 * 224
            assert view.strides == (224, 1, 224 * 224)  # channel-first
        packed.append(pack(results))
        inputs = packed[-1]['inputs']
        for k, tensor in enumerate(t for member in inputs for t in member):
            assert tensor.shape == (3, 224, 224) and tensor.is_contiguous()
            assert tensor.dtype == torch.uint8
            assert tensor.data_ptr() == start + k * 3 * 224 * 224
            assert torch.equal(tensor,
                               torch.from_numpy(flat[k]).permute(2, 0, 1))
    batch = default_collate(packed)['inputs']
    assert batch[1][0].shape == (3, 3, 224, 224)
    assert torch.equal(batch[1][0][2], packed[2]['inputs'][1][0])
    batch = pseudo_collate(packed)['inputs']
    assert torch.equal(batch[0][1][1], packed[1]['inputs'][0][1])


def test_arrays_are_reused_only_once_nothing_refers_to_them():
    views = MemberViews(IMAGENET[:1] + [dict(type='RandomFlip', prob=0.5)],
                        num_repeats=2, num_members=2)
    pack = TRANSFORMS.build(dict(type='PackInputs'))
    images = [random_image((60, 50, 3), np.uint8, seed) for seed in range(4)]
    # held: a numpy view, a packed tensor, the packed tensor of one view
    held = [views(dict(img=images[0]))['img'][1][0],
            pack(views(dict(img=images[1])))['inputs'][0][1],
            pack(views(dict(img=images[2])))['inputs'][1]]
    before = [np.array(held[0]), held[1].clone(), held[2][0].clone()]
    starts = {id(a): a.ctypes.data for a in views.fused.pool}
    assert len(starts) == 3  # the pack of image 2 freed nothing
    np.random.seed(5)
    out = views(dict(img=images[3]))['img']
    assert not any(
        np.shares_memory(view, array) for view in out[0] + out[1]
        for array in (held[0], held[1].numpy(), held[2][0].numpy()))
    np.testing.assert_array_equal(held[0], before[0])
    assert torch.equal(held[1], before[1])
    assert torch.equal(held[2][0], before[2])
    # all gone: the next views reuse an array, with the same pixels
    del held, before, out
    start = views(dict(img=images[3]))['img'][0][0].ctypes.data
    assert start in starts.values() and len(views.fused.pool) == 4
    np.random.seed(5)
    expected = views(dict(img=images[3].copy()))['img']
    np.random.seed(5)
    again = views(dict(img=images[3]))['img']
    np.testing.assert_array_equal(np.stack(again[1]), np.stack(expected[1]))
    # the same instance on other shapes and types: arrays of their own
    gray = views(dict(img=random_image((40, 40), np.float32)))['img']
    assert gray[0][0].shape == (224, 224) and gray[0][0].dtype == np.float32
    # copies (spawned workers, deepcopy) start without the arrays
    assert pickle.loads(pickle.dumps(views)).fused.pool == []


@pytest.mark.parametrize('transforms', [
    IMAGENET[::-1],
    IMAGENET[1:],
    [dict(IMAGENET[0], backend='pillow'), IMAGENET[1]],
    [dict(type='RandomCrop', crop_size=8), IMAGENET[1]],
    IMAGENET + [dict(type='RandomErasing', erase_prob=0.5)],
    [EfficientNetRandomCrop(scale=8), IMAGENET[1]],  # a subclass
])
def test_other_transforms_take_the_general_path(transforms):
    views = MemberViews(transforms, num_repeats=1, num_members=2)
    assert views.fused is None
    out = views(dict(img=random_image((32, 32, 3), np.uint8)))['img']
    assert [len(member) for member in out] == [1, 1]
