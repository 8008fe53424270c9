"""Per-sample results that are rows of per-batch arrays.

A metric reads a batch at once and keeps its arrays, one row per sample, in
one :class:`BatchRecord`; its ``results`` get one :class:`SampleRow` per
sample (:class:`BatchRowsMetric`). mmengine's contract holds: one result per
sample, in sample order, so the ranks' results are interleaved, the
sampler's padding is cut by count, and a wrapper metric may take any subset.
But a rank pickles each batch's arrays once, mmengine's ``_to_cpu`` meets
one plain object per sample (not a dict to walk), and :func:`segments`
finds the runs of consecutive rows of a batch again, so that
``compute_metrics`` reads whole arrays.
"""
from collections import Counter
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from .sample_checks import NON_FINITE_KEY


class BatchRecord:
    """The arrays of a batch's results and the marks of its rows.

    Args:
        size (int): Number of rows ``B``.
        arrays (dict[str, np.ndarray]): Arrays ``(B, ...)``, or flat arrays
            of the values of all the rows with an array of ends ``(B + 1,
            )`` (row ``i`` is ``ends[i]:ends[i + 1]``).
        marks (list[tuple], optional): Per row, its fields that hold NaN or
            inf; None when no row has any.
        places (dict, optional): Per array, the :class:`Slabs` slab it is a
            view of and its first row there (to join adjacent records
            without comparing addresses). Not pickled: the slab would be.
            Defaults to None.
    """
    __slots__ = ('size', 'arrays', 'marks', 'places')

    def __init__(self,
                 size: int,
                 arrays: Dict[str, np.ndarray],
                 marks: Optional[List[tuple]],
                 places: Optional[Dict[str, Tuple[np.ndarray,
                                                  int]]] = None) -> None:
        self.size = size
        self.arrays = arrays
        self.marks = marks
        self.places = places

    def __getstate__(self) -> tuple:
        return self.size, self.arrays, self.marks

    def __setstate__(self, state: tuple) -> None:
        self.size, self.arrays, self.marks = state
        self.places = None


class SampleRow:
    """A sample's result: row ``index`` of a :class:`BatchRecord`."""
    __slots__ = ('record', 'index')

    def __init__(self, record: BatchRecord, index: int) -> None:
        self.record = record
        self.index = index


#: Consecutive rows ``start:stop`` of a record.
Segment = Tuple[BatchRecord, int, int]


class BatchRowsMetric(BaseMetric):
    """A metric keeping each batch's results as arrays in its
    :class:`Slabs`, with one :class:`SampleRow` per sample in
    ``results`` (:meth:`store_rows`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._slabs = Slabs()

    def store_rows(self, arrays: Dict[str, np.ndarray],
                   marks: Sequence[dict]) -> None:
        """Append one :class:`SampleRow` per sample of a batch.

        Args:
            arrays (dict[str, np.ndarray]): As in :class:`BatchRecord`.
            marks (Sequence[dict]): Per sample, a dict whose
                ``NON_FINITE_KEY`` lists its non-finite fields
                (:func:`~.sample_checks.read_field`).
        """
        places = self._slabs.put(arrays)
        record = BatchRecord(
            len(marks),
            {key: slab[row:row + len(arrays[key])]
             for key, (slab, row) in places.items()},
            [m.get(NON_FINITE_KEY, ()) for m in marks]
            if any(marks) else None, places)
        self.results.extend(SampleRow(record, i) for i in range(len(marks)))

    def evaluate(self, size: int) -> dict:
        """``BaseMetric.evaluate``, then new slabs (the results are
        cleared)."""
        metrics = super().evaluate(size)
        self._slabs = Slabs()
        return metrics


def segments(results: Sequence[SampleRow]) -> List[Segment]:
    """The runs of consecutive rows of one record in ``results``, in order.

    Note: one check per run when the runs are whole batches (one process),
    one step per sample otherwise (interleaved ranks, subsets).
    """
    out: List[Segment] = []
    i, num = 0, len(results)
    while i < num:
        record, start = results[i].record, results[i].index
        # the longest run first: the rest of the batch (the rows of a
        # record come in order, each once)
        end = min(num, i + record.size - start)
        last = results[end - 1]
        if last.record is not record or last.index != start + end - 1 - i:
            end = i + 1
            while end < num and results[end].record is record and \
                    results[end].index == start + end - i:
                end += 1
        out.append((record, start, start + end - i))
        i = end
    return out


def concat(segs: Sequence[Segment], key: str,
           ends: Optional[str] = None) -> np.ndarray:
    """The rows of the array ``key`` of the segments, as one array (a view
    when they are adjacent rows of a :class:`Slabs` slab).

    Args:
        segs (Sequence[Segment]): At least one segment.
        key (str): The array.
        ends (str, optional): The array of ends of ``key``, if flat.
            Defaults to None.
    """
    parts = _joined(segs, key, ends)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def blocks(segs: Sequence[Segment], key: str,
           min_rows: int = 32) -> List[np.ndarray]:
    """The array ``key`` of the segments as blocks of rows: the segments'
    own rows (views, adjacent ones joined) if they hold ``min_rows`` on
    average, else one concatenated array (interleaved ranks)."""
    if not segs or sum(stop - start for _, start, stop in segs) < \
            min_rows * len(segs):
        return [concat(segs, key)] if segs else []
    return _joined(segs, key)


def _joined(segs: Sequence[Segment], key: str,
            ends: Optional[str] = None) -> List[np.ndarray]:
    """The rows of ``key`` of the segments, those that are adjacent rows of
    a slab as one view."""
    out: List[Any] = []  # arrays, or [slab, first row, end row]
    for record, start, stop in segs:
        if ends is not None:
            bounds = record.arrays[ends]
            start, stop = int(bounds[start]), int(bounds[stop])
        place = record.places.get(key) if record.places else None
        if place is None:
            out.append(record.arrays[key][start:stop])
            continue
        slab, row = place
        last = out[-1] if out else None
        if isinstance(last, list) and last[0] is slab and \
                last[2] == row + start:
            last[2] = row + stop
        else:
            out.append([slab, row + start, row + stop])
    return [part[0][part[1]:part[2]] if isinstance(part, list) else part
            for part in out]


class Slabs:
    """Large arrays, one per key, holding the rows of consecutive batches.

    Note: a batch's array is the next rows of its key's slab, so that the
    batches of a process are one array for :func:`concat` and
    :func:`blocks` (no copy; fewer, longer operations) and the kept rows
    are not scattered among the heap's short-lived arrays (fragmentation).
    A slab is only appended to: rows of earlier evaluations stay untouched.
    It is allocated by torch, in small pages: numpy asks for huge pages on
    large arrays, whose page faults can stall on memory compaction.

    Args:
        nbytes (int): Size of a slab. Defaults to 8 MiB.
    """

    def __init__(self, nbytes: int = 2**23) -> None:
        self.nbytes = nbytes
        self.slabs: Dict[str, Tuple[np.ndarray, int]] = {}

    def take(self, key: str, shape: Tuple[int, ...],
             dtype: Any) -> np.ndarray:
        """The next rows of the slab of ``key``, uninitialised, of
        ``shape``."""
        slab, used = self.slabs.get(key, (None, 0))
        if slab is None or slab.shape[1:] != tuple(shape[1:]) or \
                slab.dtype != dtype or used + shape[0] > len(slab):
            row = max(1, int(np.prod(shape[1:]))) * np.dtype(dtype).itemsize
            slab = torch.empty(
                (max(shape[0], self.nbytes // row), *shape[1:]),
                dtype=torch.from_numpy(np.empty(0, dtype)).dtype).numpy()
            used = 0
        self.slabs[key] = slab, used + shape[0]
        return slab[used:used + shape[0]]

    def put(self, arrays: Dict[str, np.ndarray]
            ) -> Dict[str, Tuple[np.ndarray, int]]:
        """Copy the arrays to their keys' slabs (those just taken from them
        stay); returns each one's slab and first row there."""
        places = {}
        for key, array in arrays.items():
            slab = self.slabs.get(key, (None, 0))[0]
            if slab is None or array.base is not slab:
                self.take(key, array.shape, array.dtype)[...] = array
            slab, used = self.slabs[key]
            places[key] = slab, used - len(array)
        return places


def check_finite(results: Sequence[Any], metric: str) -> None:
    """Raise if any of the gathered results was read from NaN or inf.

    Args:
        results (list): A metric's results of all the samples: dicts (marked
            by ``NON_FINITE_KEY``), :class:`SampleRow` s, or others (of
            foreign metrics, never marked).
        metric (str): Name of the metric, for the error message.
    """
    counts: Counter = Counter()
    for res in results:
        if isinstance(res, SampleRow):
            if res.record.marks is not None:
                counts.update(res.record.marks[res.index])
        elif isinstance(res, dict):
            counts.update(res.get(NON_FINITE_KEY, ()))
    if counts:
        where = ', '.join(f'`{field}` of {num} of {len(results)} samples'
                          for field, num in sorted(counts.items()))
        raise ValueError(
            f'{metric}: NaN or inf in {where}; no metric is computed from '
            'them: check the model/checkpoint (a diverged training?)')
