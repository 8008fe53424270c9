"""Training slots/s per dataloader worker, MemberViews vs one load per slot.

Usage: python tools/analysis_tools/benchmark_dataloader.py CONFIG
    [--baseline CONFIG] [--gpu-rate SLOTS_PER_S] [--image-folder DIR]
    [--num-workers 1] [--batches 40] [--warmup 5] [--repeats 3]
    [--num-repeats B] [--num-members M] [--cfg-options ...]
"""
import argparse
import copy
import math
import statistics
import time
from functools import partial
from itertools import cycle, islice
from typing import List, Optional, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import default_collate, pseudo_collate
from mmengine.utils.dl_utils import set_multi_processing
from mmpretrain.registry import DATA_SAMPLERS, DATASETS
from torch.utils.data import DataLoader, Dataset

from mmmixmo.datasets.model_inputs import (innermost_dataset, single_view,
                                           transform_index, type_name)
from mmmixmo.utils.benchmark import (format_table, hardware_line, interleaved,
                                     load_config, positive_float, positive_int)

MODES = ('member views', 'per slot')
COLLATES = dict(pseudo_collate=pseudo_collate, default_collate=default_collate)
COLUMNS = ('mode', 'slots/s/worker (median)', 'images/s/worker',
           'loads/slot', 'views/slot')  # + ratio to the reference mode


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a config file or package::path')
    parser.add_argument('--baseline', help='a third mode: the train pipeline '
                        'and batch of this config, on the same images; the '
                        'ratios are then to it')
    parser.add_argument('--gpu-rate', type=positive_float,
                        help='training slots/s of a GPU: print the workers '
                        'per GPU that feed it')
    parser.add_argument('--image-folder', help='DIR/<class>/*.jpg replaces '
                        'the training dataset (CustomDataset)')
    for flag, default, text in (
        ('--num-workers', 1, 'dataloader worker processes (0: in process)'),
        ('--warmup', 5, 'untimed batches first (worker start-up)'),
        ('--seed', 0, 'seed of the sampler'),
    ):
        parser.add_argument(flag, type=int, default=default, help=text)
    for flag, default, text in (
        ('--batches', 40, 'timed batches per repeat and mode'),
        ('--repeats', 3, 'timed repeats per mode, interleaved'),
        ('--num-repeats', None, 'b; default: MemberViews of the config, '
         'else 2 (the batch size then counts slots)'),
        ('--num-members', None, 'M; default: as --num-repeats'),
    ):
        parser.add_argument(flag, type=positive_int, default=default,
                            help=text)
    parser.add_argument('--collate', choices=tuple(COLLATES),
                        help="default: the config's collate_fn, else "
                        'default_collate (as tools/train.py)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override keys of CONFIG (not --baseline)')
    return parser.parse_args(argv)


def mode_pipelines(pipeline: List[dict], num_repeats: Optional[int],
                   num_members: Optional[int]) -> Tuple[dict, dict, bool]:
    """The train pipeline of each mode, the ``MemberViews`` config, and
    whether the config has one (else its augmentations, between the
    ``Load*`` transforms and ``PackInputs``, are wrapped)."""
    start = transform_index(pipeline, 'MemberViews')
    had_views = start is not None
    if had_views:
        stop = start + 1
        views = dict(dict(num_repeats=1, num_members=2), **pipeline[start])
    else:
        types = [type_name(transform) for transform in pipeline]
        start = next((i for i, t in enumerate(types)
                      if not t.startswith('Load')), len(types))
        stop = len(types) - (types[-1:] == ['PackInputs'])
        views = dict(type='MemberViews', transforms=pipeline[start:stop],
                     num_repeats=2, num_members=2)
    views.update((key, value) for key, value in (
        ('num_repeats', num_repeats), ('num_members', num_members)) if value)
    member_views = pipeline[:start] + [views] + pipeline[stop:]
    return {'member views': member_views,
            'per slot': single_view(member_views)}, views, had_views


def run(dataset: Dataset, batches: List[List[int]], num_workers: int,
        warmup: int, collate: str) -> Tuple[float, dict]:
    """Seconds of the batches after the ``warmup`` first ones, and the
    ``slots``, distinct ``images``, ``loads`` and ``views`` they held."""
    loader = DataLoader(dataset, batch_sampler=batches,
                        num_workers=num_workers,
                        collate_fn=COLLATES[collate])
    counts = dict(slots=0, images=0, loads=0, views=0)
    batch_iter = iter(loader)
    for _ in islice(batch_iter, warmup):
        pass
    start = time.perf_counter()
    for batch in batch_iter:
        inputs, samples = batch['inputs'], batch['data_samples']
        nested = isinstance(inputs[0], list)  # MemberViews: M x b x n
        views = (sum(len(v) for member in inputs for v in member)
                 if nested else len(inputs))
        counts['slots'] += views // len(inputs) if nested else views
        counts['images'] += len({s.sample_idx for s in samples})
        counts['loads'] += len(samples)  # one dataset load per sample
        counts['views'] += views
    return time.perf_counter() - start, counts


def train_dataset(cfg: Config, image_folder: Optional[str]) -> dict:
    """A copy of the train dataset config of ``cfg``, or a ``CustomDataset``
    of ``image_folder`` with its pipeline."""
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    if image_folder:
        dataset_cfg = dict(type='CustomDataset', data_root=image_folder,
                           pipeline=innermost_dataset(dataset_cfg)['pipeline'])
    return dataset_cfg


def main(argv: Optional[List[str]] = None) -> dict:
    """Run the benchmark, print the report and return its unrounded
    figures: ``rows``, ``times`` (seconds per repeat), ``hardware``."""
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    # as the runner: OpenCV's threads (0 by default), inherited by workers
    mp_cfg = dict(cfg.get('env_cfg', {}).get('mp_cfg', {}))
    set_multi_processing(**mp_cfg)
    dataset_cfg = train_dataset(cfg, args.image_folder)
    pipelines, views, had_views = mode_pipelines(
        list(innermost_dataset(dataset_cfg)['pipeline']), args.num_repeats,
        args.num_members)
    num_repeats = views['num_repeats']
    batch_size = cfg.train_dataloader.batch_size
    num_images = batch_size if had_views else batch_size // num_repeats
    datasets = {}
    for mode in MODES:
        innermost_dataset(dataset_cfg)['pipeline'] = pipelines[mode]
        datasets[mode] = DATASETS.build(copy.deepcopy(dataset_cfg))
    images = {'member views': num_images}  # distinct images per batch
    if args.baseline:  # last: the reference of the ratios
        baseline_cfg = load_config(args.baseline)
        datasets['baseline'] = DATASETS.build(
            train_dataset(baseline_cfg, args.image_folder))
        images['baseline'] = baseline_cfg.train_dataloader.batch_size
        sizes = len(datasets['baseline']), len(datasets['per slot'])
        if sizes[0] != sizes[1]:
            raise ValueError(
                f'--baseline: its train dataset has {sizes[0]} images, '
                f"CONFIG's {sizes[1]}: pass --image-folder to time both on "
                'the same images')
    sampler = DATA_SAMPLERS.build(
        cfg.train_dataloader.get(
            'sampler', dict(type='DefaultSampler', shuffle=True)),
        default_args=dict(dataset=datasets['per slot'], seed=args.seed))
    total = args.warmup + args.batches
    order = list(islice(cycle(sampler), total * max(images.values())))
    batches = {mode: [order[k:k + n] for k in range(0, total * n, n)]
               for mode, n in images.items()}
    batches['per slot'] = [[i for i in batch for _ in range(num_repeats)]
                           for batch in batches['member views']]

    collate = args.collate or cfg.train_dataloader.get(
        'collate_fn', {}).get('type', 'default_collate')
    counts = {}

    def load_seconds(mode: str) -> float:
        seconds, counts[mode] = run(datasets[mode], batches[mode],
                                    args.num_workers, args.warmup, collate)
        return seconds

    times = interleaved(
        {mode: partial(load_seconds, mode) for mode in datasets}, args.repeats)
    rows = []
    for mode in datasets:  # per worker: / max(1, num_workers)
        per_s = 1 / statistics.median(times[mode]) / max(1, args.num_workers)
        count = counts[mode]
        rows.append(dict(
            mode=mode, slots_per_s=count['slots'] * per_s,
            images_per_s=count['images'] * per_s,
            loads_per_slot=count['loads'] / count['slots'],
            views_per_slot=count['views'] / count['slots'], **count))
    for row in rows:  # to the baseline if any, else to per slot
        row['ratio'] = row['slots_per_s'] / rows[-1]['slots_per_s']
        if args.gpu_rate:
            row['workers_per_gpu'] = math.ceil(args.gpu_rate /
                                               row['slots_per_s'])

    hardware = hardware_line(torch.device('cpu'))
    print(hardware)
    print(f'Config: {args.config}' +
          (f', CustomDataset({args.image_folder}) of '
           f'{len(datasets["per slot"])} images' if args.image_folder else '')
          + (f' {args.cfg_options}' if args.cfg_options else ''))
    print(f'Batch: {num_images} images x b={num_repeats} = '
          f'{num_images * num_repeats} slots, M={views["num_members"]}; '
          f'{args.batches} timed batches after {args.warmup} warm-up, '
          f'{args.repeats} interleaved repeats, {args.num_workers} worker(s), '
          f'{collate}, opencv_num_threads='
          f'{mp_cfg.get("opencv_num_threads", 0)}')
    if args.baseline:
        print(f'Baseline: {args.baseline}, batch of {images["baseline"]} '
              f'images = {counts["baseline"]["slots"] // args.batches} slots')
    columns = COLUMNS + (f'ratio to {rows[-1]["mode"]}', ) + (
        (f'workers/GPU at {args.gpu_rate:g} slots/s', )
        if args.gpu_rate else ())
    print(format_table(columns, [
        (row['mode'], f'{row["slots_per_s"]:.1f}',
         f'{row["images_per_s"]:.1f}', f'{row["loads_per_slot"]:.3f}',
         f'{row["views_per_slot"]:.0f}', f'{row["ratio"]:.3f}') +
        ((str(row['workers_per_gpu']), ) if args.gpu_rate else ())
        for row in rows], left=1))
    print('member views: one load, b x M views per image; per slot: every '
          'image b times in the batch, one load and view per slot' +
          ('; baseline: its own pipeline and batch, on the same images'
           if args.baseline else ''))
    if args.gpu_rate:
        print(f'workers/GPU: ceil({args.gpu_rate:g} / slots/s/worker), '
              'assuming the workers scale linearly, one CPU core each like '
              'this one')
    return dict(rows=rows, times=times, hardware=hardware)


if __name__ == '__main__':
    main()
