"""The timing and table helpers of mmmixmo.utils.benchmark."""
import time

import pytest

from mmmixmo.utils.benchmark import (format_table, interleaved, median_ratio,
                                     time_interleaved, timed)


def test_timed_and_time_interleaved_count_the_calls():
    calls = []
    assert timed(lambda: calls.append('a'), iters=3) >= 0
    assert calls == ['a'] * 3
    calls.clear()
    fns = dict(a=lambda: calls.append('a'), b=lambda: calls.append('b'))
    times, iters = time_interleaved(fns, repeats=2, iters=2, warmup=1)
    assert iters == 2 and [len(times[k]) for k in fns] == [2, 2]
    # warm-up a, b; repeat 1 a a b b; repeat 2 reversed
    assert ''.join(calls) == 'ab' + 'aabb' + 'bbaa'
    # enough calls per repeat for min_time at the slowest warm-up call
    nap = dict(nap=lambda: time.sleep(0.01))
    _, iters = time_interleaved(nap, 1, iters=None, warmup=1, min_time=0.05)
    assert 2 <= iters <= 5
    assert time_interleaved(nap, 1, iters=None, min_time=0.05)[1] == 1


def test_interleaved_and_median_ratio():
    order = []
    runs = dict(a=lambda: order.append('a') or 1.0,
                b=lambda: order.append('b') or 2.0)
    assert interleaved(runs, 3) == dict(a=[1.0] * 3, b=[2.0] * 3)
    assert order == list('abbaab')
    assert median_ratio([2, 3, 10], [1, 1, 1]) == 3
    with pytest.raises(ValueError):
        median_ratio([1, 2], [1])


def test_format_table_markdown_and_plain():
    rows = [('a', '1.5', 'x'), ('bb', '10.25', 'yy')]
    assert format_table(('name', 'value', 'n'), rows, left=1).split('\n') == [
        '| name | value |  n |', '|------|-------|----|',
        '| a    |   1.5 |  x |', '| bb   | 10.25 | yy |']
    assert format_table(('name', 'value', 'n'), rows, left=3,
                        markdown=False).split('\n') == [
        'name  value  n', 'a     1.5    x', 'bb    10.25  yy']
