import os
import os.path as osp
from collections import Counter
from typing import List

import cv2
import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform, Compose
from mmengine.config import Config
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS, TRANSFORMS

from mmmixmo.datasets.transforms import MemberViews
from tests.conftest import REPO_ROOT
from tests.utils.decodes import count_decodes

CROP_AND_FLIP = [
    dict(type='RandomCrop', crop_size=8, padding=2),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]


def decoded(height=8, width=10):
    """The results of LoadImageFromFile on a random-noise image."""
    img = np.random.randint(0, 256, (height, width, 3), dtype=np.uint8)
    return dict(
        img=img,
        img_path='train/a/0.jpg',
        img_shape=img.shape[:2],
        ori_shape=img.shape[:2],
        gt_label=3,
        sample_idx=7)


@pytest.fixture(autouse=True)
def mmpretrain_scope():
    """The runner's default scope, in which the views' Compose finds
    mmpretrain's transforms."""
    init_default_scope('mmpretrain')


class AddOne(BaseTransform):
    """Adds 1 in place to ``results['img']`` and counts its calls."""

    def transform(self, results: dict) -> dict:
        results['img'] += 1
        results['calls'] = results.get('calls', 0) + 1
        return results


def test_registry_build_nesting_and_kept_keys():
    transform = TRANSFORMS.build(
        dict(
            type='MemberViews',
            num_repeats=3,
            num_members=2,
            transforms=CROP_AND_FLIP))
    assert isinstance(transform, MemberViews)
    assert (transform.num_repeats, transform.num_members) == (3, 2)
    results = decoded(8, 10)
    image = results['img'].copy()
    out = transform(results)
    views = out['img']
    assert isinstance(views, list) and len(views) == 2
    assert all(isinstance(member, list) and len(member) == 3
               for member in views)
    for member in views:
        for view in member:
            assert view.shape == (8, 8, 3) and view.dtype == np.uint8
    # the other keys are those of the decoded image, not of a view
    assert out['img_shape'] == (8, 10) and out['ori_shape'] == (8, 10)
    assert out['gt_label'] == 3 and out['sample_idx'] == 7
    assert out['img_path'] == 'train/a/0.jpg'
    assert 'flip' not in out  # written by RandomFlip into the views only
    # every view is a crop (+ flip) of the image padded with 0
    padded = np.pad(image, ((2, 2), (2, 2), (0, 0)))
    crops = [
        crop for top in range(5) for left in range(7)
        for crop in (padded[top:top + 8, left:left + 8],
                     padded[top:top + 8, left:left + 8][:, ::-1])
    ]
    for view in (view for member in views for view in member):
        assert sum(np.array_equal(view, crop) for crop in crops) == 1


def test_views_are_independent_augmentations():
    transform = MemberViews(CROP_AND_FLIP, num_repeats=4, num_members=3)
    views = transform(decoded(16, 16))['img']
    flat = [view for member in views for view in member]
    assert len(flat) == 12
    # 13 x 13 crops x 2 flips: 12 independent views are (nearly) distinct
    distinct = {view.tobytes() for view in flat}
    assert len(distinct) >= 10
    # no view shares memory with another
    for a in range(12):
        for b in range(a + 1, 12):
            assert not np.shares_memory(flat[a], flat[b])


def test_every_view_transforms_its_own_copy():
    # AddOne writes into its image: each view sees the decoded image once
    results = decoded()
    image = results['img']
    before = image.copy()
    out = MemberViews([AddOne()], num_repeats=3, num_members=2)(results)
    for member in out['img']:
        for view in member:
            np.testing.assert_array_equal(view.astype(int), before + 1)
    np.testing.assert_array_equal(image, before)  # the decoded image
    assert 'calls' not in out
    # an OpenCV transform writing into its input image, too
    results = decoded()
    image, before = results['img'], results['img'].copy()
    flip = MemberViews(
        [lambda r: dict(r, img=cv2.flip(r['img'], 1, r['img']))],
        num_repeats=2, num_members=2)
    for member in flip(results)['img']:
        for view in member:
            np.testing.assert_array_equal(view, before[:, ::-1])
    np.testing.assert_array_equal(image, before)
    assert flip.copy_image
    # mmpretrain's RandomErasing also writes in place: every view differs
    # from the decoded image in one rectangle, its own erased patch
    results = decoded(32, 32)
    image = results['img']
    before = image.copy()
    erase = dict(
        type='RandomErasing',
        erase_prob=1.0,
        min_area_ratio=0.05,
        max_area_ratio=0.1,
        mode='rand')
    out = MemberViews([erase], num_repeats=2, num_members=2)(results)
    np.testing.assert_array_equal(image, before)
    patches = set()
    for member in out['img']:
        for view in member:
            changed = (view != before).any(-1)
            rows = changed.any(1).nonzero()[0]
            cols = changed.any(0).nonzero()[0]
            patches.add((rows[0], rows[-1], cols[0], cols[-1]))
            # 5% to 10% of the pixels, up to rounding, in one rectangle
            assert 0.04 * 32 * 32 <= changed.sum() <= 0.12 * 32 * 32
            outside = np.ones_like(changed)
            outside[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] = False
            assert not changed[outside].any()
    assert len(patches) > 1


def test_packed_and_collated_format():
    """``PackInputs`` packs the nesting; collated as the preprocessor
    reads it: ``inputs[i][r]`` holds the n images."""
    pipeline = Compose([
        dict(
            type='MemberViews',
            num_repeats=2,
            num_members=3,
            transforms=CROP_AND_FLIP),
        dict(type='PackInputs'),
    ])
    packed = [pipeline(decoded()) for _ in range(5)]
    views = packed[0]['inputs']
    assert len(views) == 3 and all(len(member) == 2 for member in views)
    assert views[2][1].shape == (3, 8, 8) and views[2][1].dtype == torch.uint8
    assert packed[0]['data_samples'].gt_label.tolist() == [3]
    batch = pseudo_collate(packed)['inputs']
    assert len(batch) == 3 and len(batch[0]) == 2 and len(batch[0][1]) == 5
    assert torch.equal(batch[2][1][4], packed[4]['inputs'][2][1])
    batch = default_collate([p['inputs'] for p in packed])
    assert batch[2][1].shape == (5, 3, 8, 8)
    assert torch.equal(batch[2][1][4], packed[4]['inputs'][2][1])


def test_repr():
    transform = MemberViews(CROP_AND_FLIP, num_repeats=4, num_members=3)
    text = repr(transform)
    assert text.startswith('MemberViews(num_repeats=4, num_members=3, '
                           'transforms=Compose(')
    assert 'RandomCrop(crop_size=(8, 8)' in text and 'RandomFlip' in text


@pytest.mark.parametrize('kwargs, key', [
    (dict(num_repeats=0), 'num_repeats'),
    (dict(num_repeats=2.0), 'num_repeats'),
    (dict(num_repeats='2'), 'num_repeats'),
    (dict(num_members=1), 'num_members'),
    (dict(num_members=2.0), 'num_members'),
    (dict(num_members=None), 'num_members'),
])
def test_errors(kwargs, key):
    with pytest.raises(ValueError, match=rf'MemberViews\.{key} .*>= '):
        MemberViews(CROP_AND_FLIP, **kwargs)


def _write_image_folder(root: str, num_classes: int,
                        per_class: int) -> List[str]:
    """``root/train/<class>/*.jpg`` random-noise 32 x 32 JPEGs; returns
    their paths."""
    files = []
    rng = np.random.default_rng(0)
    for c in range(num_classes):
        folder = osp.join(root, 'train', f'class{c}')
        os.makedirs(folder)
        for j in range(per_class):
            path = osp.join(folder, f'{j:02d}.jpg')
            img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            assert cv2.imwrite(path, img)
            files.append(path)
    return files


def test_each_image_is_decoded_once(tmp_path, monkeypatch):
    """Cut-MixMo image folder, b = 2, M = 2: 32 images (64 slots) a step."""
    files = _write_image_folder(str(tmp_path), num_classes=2, per_class=20)
    decodes = count_decodes(monkeypatch, files)
    cfg = Config.fromfile(f'{REPO_ROOT}/configs/imagefolder/'
                          'cut-mixmo_wrn10-2_1xb64-b2_imagefolder.py')
    loader = Runner.build_dataloader(
        dict(
            cfg.train_dataloader,
            dataset=dict(
                cfg.train_dataloader.dataset, data_root=str(tmp_path)),
            num_workers=0,
            persistent_workers=False),
        seed=0)
    preprocessor = MODELS.build(cfg.model).data_preprocessor
    steps = []
    for batch in loader:
        paths = [s.img_path for s in batch['data_samples']]
        # this step decoded each of its images exactly once
        assert decodes - sum(steps, Counter()) == Counter(paths)
        steps.append(Counter(paths))
        num_images = len(paths)
        assert len(batch['inputs']) == 2
        assert [len(member) for member in batch['inputs']] == [2, 2]
        assert all(
            len(view) == num_images for member in batch['inputs']
            for view in member)
        if len(steps) == 1:
            out = preprocessor(batch, training=True)
            assert out['inputs'].shape == (64, 2, 3, 32, 32)
            assert len(out['data_samples']) == 64
    assert [sum(step.values()) for step in steps] == [32, 8]
    # one epoch: each of the 40 files decoded exactly once
    assert sorted(decodes) == sorted(files)
    assert set(decodes.values()) == {1}
