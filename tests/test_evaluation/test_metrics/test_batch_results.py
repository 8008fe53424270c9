"""Per-sample results stored as rows of per-batch arrays."""
import pickle

import numpy as np
import pytest

from mmmixmo.evaluation.metrics.batch_results import (BatchRowsMetric,
                                                      SampleRow, Slabs,
                                                      blocks, check_finite,
                                                      concat, segments)


class _Rows(BatchRowsMetric):
    """The rows' ``value``s, as stored."""

    def process(self, data_batch, data_samples):
        pass

    def compute_metrics(self, results):
        return dict(values=concat(segments(results), 'value')[:, 0].tolist())


def _batches(sizes, marked=(), nbytes=2**23):
    """Results of batches of ``sizes`` rows: ``value`` (the sample number)
    and a ragged ``kept`` (sample ``n`` keeps ``n % 3`` values ``n``)."""
    metric, first = _Rows(), 0
    metric._slabs = Slabs(nbytes)
    for size in sizes:
        numbers = np.arange(first, first + size)
        counts = numbers % 3
        marks = [dict(non_finite=('pred_score', )) if n in marked else {}
                 for n in numbers]
        metric.store_rows(dict(
            value=(numbers[:, None] * [1, 10]).astype(np.float32),
            kept=np.repeat(numbers, counts),
            kept_ends=np.concatenate([[0], np.cumsum(counts)])), marks)
        first += size
    return metric.results


def _kept(numbers):
    return [n for n in numbers for _ in range(n % 3)]


def test_one_process_reads_whole_batches():
    results = _batches([4, 4, 2])
    assert len(results) == 10 and all(
        isinstance(res, SampleRow) for res in results)
    assert results[5].record is results[4].record and results[5].index == 1
    segs = segments(results)
    # one segment per batch, views of its arrays
    assert [(start, stop) for _, start, stop in segs] == [(0, 4), (0, 4),
                                                          (0, 2)]
    assert concat(segs, 'value')[:, 0].tolist() == list(range(10))
    assert concat(segs, 'kept', 'kept_ends').tolist() == _kept(range(10))
    # the batches are adjacent rows of one slab: one view, no copy
    parts = blocks(segs, 'value', min_rows=3)
    assert [len(b) for b in parts] == [10]
    assert parts[0].base is results[0].record.arrays['value'].base
    assert concat(segs, 'kept', 'kept_ends').base is not None
    # shorter than min_rows on average: one concatenated block
    assert [len(b) for b in blocks(segs, 'value', min_rows=4)] == [10]


def test_slabs_hold_consecutive_batches():
    # slabs of 64 bytes: 8 rows of 2 float32; a batch that does not fit
    # starts a new slab, and so does another width or type
    results = _batches([3, 4, 2, 5], nbytes=64)
    segs = segments(results)
    assert [len(b) for b in blocks(segs, 'value', min_rows=1)] == [7, 7]
    assert concat(segs, 'value')[:, 1].tolist() == [10 * n for n in range(14)]
    slabs = Slabs(64)
    first = slabs.take('x', (3, 2), np.float32)
    first[...] = 1
    # taken rows stay where they are; others are copied after them
    assert slabs.put(dict(x=first)) == dict(x=(first.base, 0))
    assert slabs.put(dict(x=np.zeros((2, 2), np.float32))) == dict(
        x=(first.base, 3))
    slab, row = slabs.put(dict(x=np.zeros((2, 3), np.float32)))['x']
    assert slab is not first.base and row == 0 and slab.shape[1:] == (3, )
    assert first.tolist() == [[1, 1]] * 3  # earlier rows untouched
    # a record pickles its rows, not the slab, and forgets its place
    record = pickle.loads(pickle.dumps(results[0].record))
    assert record.places is None and record.arrays['value'].base is None
    assert len(pickle.dumps(results[0].record)) < 1000
    # a whole metric: the slabs end with the results
    metric = _Rows()
    metric.store_rows(dict(value=np.arange(4.0)[:, None]), [{}] * 4)
    slab = metric._slabs.slabs['value'][0]
    assert metric.evaluate(4) == {'values': [0, 1, 2, 3]}
    assert metric.results == [] and metric._slabs.slabs == {}
    metric.store_rows(dict(value=np.arange(2.0)[:, None]), [{}] * 2)
    assert metric._slabs.slabs['value'][0] is not slab


def test_two_ranks_pickled_and_interleaved():
    # DefaultSampler: rank r gets samples r::2 (7 samples, rank 1 padded
    # with sample 0); each rank pickles its results (shared records once);
    # collect_results interleaves them and cuts to 7
    samples = list(range(7)) + [0]
    parts = []
    for rank in range(2):
        numbers = samples[rank::2]
        metric = _Rows()
        for start in range(0, len(numbers), 3):
            batch = np.array(numbers[start:start + 3])
            metric.store_rows(dict(value=batch[:, None] * [1, 10]),
                              [{}] * len(batch))
        sent = pickle.dumps(metric.results)
        assert len(sent) < 4000
        parts.append(pickle.loads(sent))
    gathered = [res for pair in zip(*parts) for res in pair][:7]
    segs = segments(gathered)
    assert len(segs) == 7  # interleaved: one row each
    assert concat(segs, 'value')[:, 0].tolist() == list(range(7))
    assert [len(b) for b in blocks(segs, 'value')] == [7]


def test_subsets_of_a_wrapper():
    results = _batches([5, 5])
    subset = [results[i] for i in (0, 2, 3, 4, 5, 9)]
    segs = segments(subset)
    assert [(start, stop) for _, start, stop in segs] == [(0, 1), (2, 5),
                                                          (0, 1), (4, 5)]
    assert concat(segs, 'value')[:, 1].tolist() == [0, 20, 30, 40, 50, 90]
    assert concat(segs, 'kept', 'kept_ends').tolist() == _kept(
        [0, 2, 3, 4, 5, 9])


def test_check_finite_counts_every_result():
    results = [dict(x=0)] * 290 + _batches([3, 3], marked=(1, 4, 5)) + [
        dict(x=0, non_finite=('pred_score', 'member_logits')),
        dict(x=0, non_finite=('member_logits', )),
        dict(x=0, non_finite=('member_logits', )),
        3,  # a foreign metric's result: no mark
    ]
    assert results[290].record.marks is not None
    with pytest.raises(ValueError) as error:
        check_finite(results, 'OODMetric')
    assert str(error.value) == (
        'OODMetric: NaN or inf in `member_logits` of 3 of 300 samples, '
        '`pred_score` of 4 of 300 samples; no metric is computed from them: '
        'check the model/checkpoint (a diverged training?)')
    # a subset without the marked rows passes
    check_finite(results[:290] + results[290:291] + [3], 'OODMetric')
    check_finite([], 'OODMetric')
    assert _batches([2])[0].record.marks is None
