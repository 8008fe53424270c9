"""BatchAccuracy: by hand, and the same values as mmpretrain's Accuracy."""
import math
import pickle

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.evaluation import Accuracy
from mmpretrain.structures import DataSample

from mmmixmo.evaluation.metrics import BatchAccuracy

# label 0: ranks 1st; label 1: 2nd; label 2: 3rd (score 0.1); label 0: 2nd
PROBS = torch.tensor([[0.6, 0.3, 0.1], [0.6, 0.3, 0.1], [0.6, 0.3, 0.1],
                      [0.2, 0.7, 0.1]])
LABELS = [0, 1, 2, 0]


def _batches(scores, labels, batch_size):
    """Predicted samples as the heads write them: ``pred_score`` rows of a
    batch tensor."""
    for start in range(0, len(labels), batch_size):
        rows = scores[start:start + batch_size].clone()
        yield [
            DataSample().set_gt_label(int(label)).set_pred_score(row)
            .to_dict()
            for label, row in zip(labels[start:start + batch_size], rows)
        ]


def _evaluate(metric, scores, labels, batch_size=3):
    for batch in _batches(scores, labels, batch_size):
        metric.process(None, batch)
    return metric.evaluate(len(labels))


def test_by_hand():
    out = _evaluate(BatchAccuracy(topk=(1, 2, 3)), PROBS, LABELS)
    assert out == {'accuracy/top1': 25.0, 'accuracy/top2': 75.0,
                   'accuracy/top3': 100.0}
    # thresholds: a hit counts only if its score is above
    out = _evaluate(BatchAccuracy(topk=3, thrs=(None, 0.25, 0.5)), PROBS,
                    LABELS)
    assert out == {'accuracy/top3_no-thr': 100.0,
                   'accuracy/top3_thr-0.25': 50.0,
                   'accuracy/top3_thr-0.50': 25.0}
    assert _evaluate(BatchAccuracy(prefix='acc'), PROBS,
                     LABELS) == {'acc/top1': 25.0}


@pytest.mark.parametrize('topk, thrs', [((1, 5), 0.), (1, None),
                                        ((1, 2, 3), (None, 0.1, 0.5))])
@pytest.mark.parametrize('batch_size', [1, 7, 64])
def test_same_values_as_accuracy(topk, thrs, batch_size):
    gen = torch.Generator().manual_seed(batch_size)
    # few distinct logits: ties at every rank; and scores of exactly 0
    logits = torch.randint(0, 4, (300, 10), generator=gen).float()
    scores = logits.softmax(1)
    scores[::17] = 0.
    labels = torch.randint(0, 10, (300, ), generator=gen).tolist()
    ours = _evaluate(BatchAccuracy(topk, thrs), scores, labels, batch_size)
    theirs = _evaluate(Accuracy(topk, thrs), scores, labels, batch_size)
    assert ours == theirs
    assert len(ours) == len(Accuracy(topk, thrs).topk) * len(
        Accuracy(topk, thrs).thrs)


def test_two_ranks_gather_bools_and_interleave():
    # rank r processes samples r::2 (the DefaultSampler's split, rank 1
    # padded with sample 0); mmengine interleaves the unpickled results
    gen = torch.Generator().manual_seed(0)
    scores = torch.rand(101, 1000, generator=gen).softmax(1)
    labels = torch.randint(0, 1000, (101, ), generator=gen).tolist()
    parts, sizes = [], []
    for rank in range(2):
        index = list(range(rank, 101, 2)) + [0] * rank
        metric = BatchAccuracy(topk=(1, 5))
        for batch in _batches(scores[index], [labels[i] for i in index], 16):
            metric.process(None, batch)
        sizes.append(len(pickle.dumps(metric.results)))
        parts.append(pickle.loads(pickle.dumps(metric.results)))
    gathered = [res for pair in zip(*parts) for res in pair][:101]
    ours = metric.compute_metrics(gathered)
    assert ours == {
        f'top{k}': acc[0].item()
        for k, acc in zip((1, 5), Accuracy.calculate(scores, labels, (1, 5)))
    }
    # two bools per sample, against a 4 kB score row per sample
    accuracy = Accuracy(topk=(1, 5))
    accuracy.process(None, next(_batches(scores[:51], labels[:51], 51)))
    assert max(sizes) < 8_000 < 51 * 4000 < len(pickle.dumps(
        accuracy.results))
    arrays = metric.results[0].record.arrays
    assert arrays['hits'].dtype == np.bool_ and arrays['hits'].shape[1] == 2
    assert arrays['classes'].dtype == np.int32 and set(
        arrays['classes']) == {1000}


@pytest.mark.parametrize('kwargs, match', [
    (dict(topk=()), '`topk` must be an int >= 1 or a sequence of them, got'),
    (dict(topk=(1, 0)), r'`topk` must be .*, got \(1, 0\)'),
    (dict(topk=1.0), '`topk` must be'), (dict(topk=(True, )), '`topk`'),
    (dict(thrs=()), '`thrs` is empty')
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match='^BatchAccuracy: ' + match):
        BatchAccuracy(**kwargs)


def test_no_sample_no_key():
    # mmengine warns of the empty results; Accuracy would fail to stack
    assert BatchAccuracy().compute_metrics([]) == {}


def test_user_mistakes():
    sample = next(_batches(PROBS[:1], [0], 1))[0]
    with pytest.raises(ValueError, match=r'one score per class, \(K, \), '
                       r'got \(3, 1\) per sample'):
        BatchAccuracy().process(
            None, [dict(sample, pred_score=PROBS[0][:, None])])
    # a different number of classes in a later batch (or on another rank)
    metric = BatchAccuracy()
    metric.process(None, [sample])
    metric.process(None, [dict(sample, pred_score=PROBS[0, :2])])
    with pytest.raises(ValueError, match=r"samples' `pred_score` have "
                       r'different numbers of classes \[2, 3\]'):
        metric.evaluate(2)
    with pytest.raises(ValueError, match='`topk` 5 is more than the 3 '):
        BatchAccuracy(topk=(1, 5)).process(None, [sample])
    with pytest.raises(ValueError, match='single-label'):
        BatchAccuracy().process(
            None, [dict(sample, gt_label=torch.tensor([0, 1]))])
    del sample['pred_score']
    with pytest.raises(KeyError, match='pred_score'):
        BatchAccuracy().process(None, [dict(sample, pred_label=0)])


@pytest.mark.parametrize('value', [math.nan, math.inf])
def test_non_finite_pred_score_raises(non_finite_error, value):
    scores = PROBS.clone()
    scores[2, 1] = value
    evaluator = Evaluator([BatchAccuracy()])
    for batch in _batches(scores, LABELS, 3):
        evaluator.process(batch)
    with pytest.raises(ValueError) as error:
        evaluator.evaluate(4)
    assert str(error.value) == non_finite_error('BatchAccuracy', 1, 4,
                                                'pred_score')
