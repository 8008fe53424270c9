"""tools/analysis_tools/benchmark_dataloader.py on a few fake JPEGs (counts
and figures, not timings)."""
import os
import os.path as osp
import shutil
import statistics

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from tests.conftest import REPO_ROOT
from tests.utils.tools import load_tool

IMAGEFOLDER = osp.join(REPO_ROOT, 'configs', 'imagefolder',
                       'cut-mixmo_wrn10-2_1xb64-b2_imagefolder.py')
VANILLA = osp.join(REPO_ROOT, 'configs', 'imagefolder',
                   'vanilla_wrn10-2_1xb64_imagefolder.py')
QUICK = ['--batches', '2', '--warmup', '1', '--repeats', '1',
         '--num-workers', '0']


@pytest.fixture(scope='module')
def tool():
    return load_tool('analysis_tools/benchmark_dataloader.py')


@pytest.fixture(scope='module')
def image_folder(tmp_path_factory):
    """2 classes x 5 JPEGs of 20x16 (W x H)."""
    root = tmp_path_factory.mktemp('jpegs')
    rng = np.random.default_rng(0)
    for cls in ('a', 'b'):
        os.makedirs(root / cls)
        for k in range(5):
            pixels = rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / cls / f'{k}.jpg')
    return str(root)


def table(out):
    return [[c.strip() for c in line.strip('|').split('|')]
            for line in out.splitlines() if line.startswith('|')]


def check_figures(tool, result, out, batches, images, b, members,
                  reference='per slot', gpu_rate=None):
    """Counts of both modes over ``batches`` batches of ``images`` images
    (b slots each), and the printed figures that derive from them: ratios
    to the ``reference`` mode, workers per GPU at ``gpu_rate``."""
    rows = {row['mode']: row for row in result['rows']}
    slots = batches * images * b
    assert {k: rows['member views'][k] for k in (
        'slots', 'images', 'loads', 'views')} == dict(
            slots=slots, images=batches * images, loads=batches * images,
            views=slots * members)
    assert {k: rows['per slot'][k] for k in (
        'slots', 'images', 'loads', 'views')} == dict(
            slots=slots, images=batches * images, loads=slots, views=slots)
    assert rows['member views']['loads_per_slot'] == 1 / b
    assert rows['per slot']['loads_per_slot'] == 1
    assert rows['member views']['views_per_slot'] == members
    assert rows['per slot']['views_per_slot'] == 1
    for mode, row in rows.items():
        median = statistics.median(result['times'][mode])
        assert row['slots_per_s'] == pytest.approx(row['slots'] / median,
                                                   rel=1e-12)
        assert row['images_per_s'] == pytest.approx(row['images'] / median,
                                                    rel=1e-12)
    for row in rows.values():
        assert row['ratio'] == pytest.approx(
            row['slots_per_s'] / rows[reference]['slots_per_s'], rel=1e-12)
    assert rows[reference]['ratio'] == 1
    columns = tool.COLUMNS + (f'ratio to {reference}', )
    if gpu_rate:
        columns += (f'workers/GPU at {gpu_rate:g} slots/s', )
        for row in rows.values():  # the fewest workers reaching the rate
            workers = row['workers_per_gpu']
            assert (workers - 1) * row['slots_per_s'] < gpu_rate
            assert workers * row['slots_per_s'] >= gpu_rate
        assert out.splitlines()[-1] == (
            f'workers/GPU: ceil({gpu_rate:g} / slots/s/worker), assuming '
            'the workers scale linearly, one CPU core each like this one')
    else:
        assert all('workers_per_gpu' not in row for row in rows.values())
    cells = table(out)
    assert tuple(cells[0]) == columns
    assert [row[0] for row in cells[2:]] == list(rows)
    for cell, row in zip(cells[2:], result['rows']):
        assert cell[1:] == [
            f'{row["slots_per_s"]:.1f}', f'{row["images_per_s"]:.1f}',
            f'{row["loads_per_slot"]:.3f}', f'{row["views_per_slot"]:.0f}',
            f'{row["ratio"]:.3f}'
        ] + ([str(row['workers_per_gpu'])] if gpu_rate else [])


def test_member_views_config(tool, image_folder, capsys):
    # the config's MemberViews (b = 2, M = 2), 3 images (6 slots) per batch
    result = tool.main([IMAGEFOLDER, '--image-folder', image_folder, *QUICK,
                        '--cfg-options', 'train_dataloader.batch_size=3'])
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == result['hardware'] and lines[0].startswith(
        'Hardware: CPU ')
    assert lines[1] == (f'Config: {IMAGEFOLDER}, CustomDataset('
                        f'{image_folder}) of 10 images '
                        "{'train_dataloader.batch_size': 3}")
    assert lines[2] == ('Batch: 3 images x b=2 = 6 slots, M=2; 2 timed '
                        'batches after 1 warm-up, 1 interleaved repeats, 0 '
                        'worker(s), default_collate, opencv_num_threads=0')
    assert [len(t) for t in result['times'].values()] == [1, 1]
    check_figures(tool, result, out, batches=2, images=3, b=2, members=2)


def test_config_without_member_views(tool, image_folder, capsys):
    # mmpretrain's ImageNet pipeline wrapped with b = 2, M = 3: a batch of 5
    # slots is 2 images x 2 slots; pseudo_collate lists the views.
    result = tool.main([
        'mmpretrain::_base_/datasets/imagenet_bs64.py', '--image-folder',
        image_folder, '--num-repeats', '2', '--num-members', '3', *QUICK,
        '--collate', 'pseudo_collate', '--cfg-options',
        'train_dataloader.batch_size=5',
        'train_dataloader.dataset.pipeline.1.scale=8'
    ])
    out = capsys.readouterr().out
    assert out.splitlines()[2].startswith('Batch: 2 images x b=2 = 4 slots, '
                                          'M=3; 2 timed')
    assert out.splitlines()[2].endswith(
        'pseudo_collate, opencv_num_threads=0')
    check_figures(tool, result, out, batches=2, images=2, b=2, members=3)


def test_baseline_and_gpu_rate(tool, image_folder, tmp_path, capsys,
                               monkeypatch):
    # the vanilla config at 4 images per batch (the --cfg-options set the
    # MixMo config's 3 only); each mode's batches as run() receives them
    baseline = tmp_path / 'vanilla_4.py'
    baseline.write_text(f'_base_ = [{VANILLA!r}]\n'
                        'train_dataloader = dict(batch_size=4)\n')
    received = []
    run = tool.run

    def recording_run(dataset, batches, *args):
        received.append(batches)
        return run(dataset, batches, *args)

    monkeypatch.setattr(tool, 'run', recording_run)
    result = tool.main([IMAGEFOLDER, '--image-folder', image_folder, *QUICK,
                        '--baseline', str(baseline), '--gpu-rate', '1234.5',
                        '--cfg-options', 'train_dataloader.batch_size=3'])
    out = capsys.readouterr().out
    assert out.splitlines()[3] == (f'Baseline: {baseline}, batch of 4 '
                                   'images = 4 slots')
    assert 'baseline: its own pipeline and batch, on the same images' in out
    assert [len(t) for t in result['times'].values()] == [1, 1, 1]
    check_figures(tool, result, out, batches=2, images=3, b=2, members=2,
                  reference='baseline', gpu_rate=1234.5)
    # one load and view per slot, 4 distinct images per timed batch
    row = result['rows'][2]
    assert {k: row[k] for k in ('mode', 'slots', 'images', 'loads', 'views',
                                'loads_per_slot', 'views_per_slot')} == dict(
        mode='baseline', slots=8, images=8, loads=8, views=8,
        loads_per_slot=1, views_per_slot=1)
    # the sampler order of all modes: a permutation of the 10 images, cycled
    views, per_slot, vanilla = ([i for batch in batches for i in batch]
                                for batches in received)
    assert [len(batches) for batches in received] == [3, 3, 3]
    assert sorted(vanilla[:10]) == list(range(10))
    assert vanilla == vanilla[:10] + vanilla[:2]
    assert views == vanilla[:9]
    assert per_slot == [i for i in views for _ in range(2)]


def test_baseline_on_other_images(tool, image_folder, tmp_path):
    # Without --image-folder the baseline's dataset must be CONFIG's (the
    # same sampler order): 5 images of class 'a' against all 10.
    shutil.copytree(osp.join(image_folder, 'a'), tmp_path / 'other' / 'a')
    baseline = tmp_path / 'vanilla_a.py'
    baseline.write_text(
        f'_base_ = [{VANILLA!r}]\ntrain_dataloader = dict(dataset=dict('
        f'data_root={str(tmp_path)!r}, data_prefix="other"))\n')
    root, prefix = osp.split(image_folder)
    with pytest.raises(ValueError, match='pass --image-folder'):
        tool.main([IMAGEFOLDER, '--baseline', str(baseline), *QUICK,
                   '--cfg-options',
                   f'train_dataloader.dataset.data_root={root}',
                   f'train_dataloader.dataset.data_prefix={prefix}'])


def test_parse_errors(tool):
    for value in ('0', '-1', 'nan', 'inf'):
        with pytest.raises(SystemExit):
            tool.parse_args([IMAGEFOLDER, '--gpu-rate', value])
    assert tool.parse_args([IMAGEFOLDER, '--gpu-rate', '2.5']).gpu_rate == 2.5


def test_mode_pipelines(tool):
    cifar = Config.fromfile(osp.join(
        REPO_ROOT, 'configs', 'mixmo',
        'cut-mixmo_wrn28-10_1xb64-b4_cifar100.py'))
    pipeline = list(cifar.train_dataloader.dataset.pipeline)
    augments = list(pipeline[0].transforms)
    pipelines, views, had_views = tool.mode_pipelines(pipeline, None, 3)
    assert had_views
    assert views == dict(pipeline[0], num_members=3)
    assert views['num_repeats'] == 4
    assert pipelines == {'member views': [views, pipeline[1]],
                         'per slot': [*augments, pipeline[1]]}
    load, crop, pack = (dict(type='LoadImageFromFile'),
                        dict(type='RandomCrop', crop_size=8),
                        dict(type='PackInputs'))
    pipelines, views, had_views = tool.mode_pipelines([load, crop, pack],
                                                      None, None)
    assert not had_views
    assert views == dict(type='MemberViews', transforms=[crop],
                         num_repeats=2, num_members=2)
    assert pipelines == {'member views': [load, views, pack],
                         'per slot': [load, crop, pack]}
