#!/usr/bin/env python
"""Reliability diagram and head-agreement figures from ``tools/test.py --out``.

::

    python tools/test.py CONFIG CHECKPOINT --out results.pkl
    python tools/analysis_tools/plot_uncertainty.py results.pkl \\
        [--out-dir DIR] [--num-bins 15] [--title TITLE]

``results.pkl`` is what mmengine's ``DumpResults`` writes for ``--out``: a
list with one dict per test image (``DataSample.to_dict()``), holding
``pred_score`` ``(K, )``, ``gt_label`` ``(1, )`` and, for MixMo models (whose
``MultiHeadClsHead`` sets it), ``head_logits`` ``(M, K)``. Written to
``--out-dir`` (default: the folder of ``results.pkl``) as PNG:

- ``reliability.png`` (every model): top, the accuracy of the samples of each
  of ``--num-bins`` equal-width confidence bins (confidence = max ensemble
  probability) against the diagonal of perfect calibration, the gap to each
  bin's mean confidence, and the ECE in the legend; bottom, the histogram of
  the confidences with the overall accuracy and mean confidence.
- ``head_agreement.png`` (only with ``head_logits`` and ``M >= 2``): the
  ``M x M`` matrix of pairwise agreement rates between the heads' argmax
  (the complement of the ``disagreement`` of ``EnsembleDiversityMetric``),
  with each head's top-1 on its tick label and the ensemble top-1, the mean
  head top-1 and the mean disagreement in the title.
- ``head_reliability.png`` (same condition): one reliability curve (bin
  accuracy against bin mean confidence, non-empty bins) per head
  (``softmax(head_logits[i])``) and for the ensemble, each with its ECE.

For a single-output (vanilla) model only ``reliability.png`` is written, and
the script says so. With ``tools/test.py --tta``, mmpretrain's
``AverageClsScoreTTA`` averages ``pred_score`` only and keeps the
``head_logits`` of the first view, which the metrics (and so these figures)
then read.

The numbers are the metrics' own: the ensemble logits, ECE, NLL and Brier
come from :class:`~mmmixmo.evaluation.metrics.CalibrationMetric`
(``head_logits`` averaged over heads, else ``log(pred_score)``), the per-head
top-1, ensemble gain and disagreement from
:class:`~mmmixmo.evaluation.metrics.EnsembleDiversityMetric` and
:mod:`mmmixmo.evaluation.functional`, so the figures match the
``calibration/*`` and ``diversity/*`` keys that ``tools/test.py`` logs for the
same ``--num-bins``. The figures are matplotlib ``Figure`` objects saved
through the Agg canvas, without pyplot: no display is needed and the
matplotlib backend of the calling process is left alone.
"""
import argparse
import importlib.util
import os
import os.path as osp
import sys
from itertools import combinations
from typing import Dict, List, Optional, Sequence

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if importlib.util.find_spec('mmmixmo') is None:
    # Not installed: use the package of the checkout this script belongs to.
    sys.path.insert(0, REPO_ROOT)

import mmengine  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import Tensor  # noqa: E402

from mmmixmo.evaluation.functional import (  # noqa: E402
    expected_calibration_error, pairwise_disagreement, top1_accuracy)
from mmmixmo.evaluation.metrics import (  # noqa: E402
    CalibrationMetric, EnsembleDiversityMetric)

DPI = 150


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Reliability diagram and head-agreement figures (PNG) '
        'from the predictions dumped by `tools/test.py CONFIG CKPT --out '
        'results.pkl`.')
    parser.add_argument(
        'results',
        help='pickle of predictions written by tools/test.py --out (a list '
        'of DataSample dicts)')
    parser.add_argument(
        '--out-dir',
        help='folder of the PNG files; defaults to the folder of RESULTS')
    parser.add_argument(
        '--num-bins',
        type=int,
        default=15,
        help='number of equal-width confidence bins (as '
        'CalibrationMetric.num_bins; the paper uses 15)')
    parser.add_argument(
        '--title',
        help='title of the figures (e.g. the model name); defaults to the '
        'name of the results file')
    args = parser.parse_args(argv)
    if args.num_bins < 1:
        parser.error(f'--num-bins must be >= 1, got {args.num_bins}')
    return args


def load_results(path: str) -> List[dict]:
    """Load and check the predictions dumped by ``tools/test.py --out``.

    Args:
        path (str): The pickle written by mmengine's ``DumpResults``.

    Returns:
        list[dict]: One ``DataSample.to_dict()`` per test sample, each with
        ``gt_label`` and ``pred_score`` (and maybe ``head_logits``).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'results file {path} does not exist; write '
                                'it with `python tools/test.py CONFIG '
                                f'CHECKPOINT --out {path}`')
    results = mmengine.load(path, file_format='pkl')
    if isinstance(results, dict):
        raise ValueError(
            f'{path} holds a dict with keys {sorted(results)[:5]}..., the '
            'metrics written by `tools/test.py --out-item metrics`; dump the '
            f'predictions instead with `tools/test.py CONFIG CHECKPOINT --out '
            f'{path}` (or `--out-item pred`)')
    if not isinstance(results, (list, tuple)) or len(results) == 0:
        raise ValueError(f'{path} must hold a non-empty list of predicted '
                         'samples (DataSample dicts), got '
                         f'{type(results).__name__} {results!r:.80}')
    for i, sample in enumerate(results):
        if not isinstance(sample, dict):
            raise ValueError(f'sample {i} of {path} is a '
                             f'{type(sample).__name__}, not a DataSample dict')
        if 'gt_label' not in sample:
            raise ValueError(
                f'sample {i} of {path} has no `gt_label`: the test set must '
                'be labelled to draw calibration figures')
        if 'pred_score' not in sample and 'head_logits' not in sample:
            raise ValueError(
                f'sample {i} of {path} has neither `pred_score` nor '
                '`head_logits`; dump the predictions of a classifier')
    num_with_heads = sum('head_logits' in sample for sample in results)
    if 0 < num_with_heads < len(results):
        raise ValueError(f'`head_logits` is present on {num_with_heads} of '
                         f'{len(results)} samples of {path}; every sample '
                         'must carry it (or none)')
    return list(results)


def reliability_bins(probs: Tensor, labels: Tensor,
                     num_bins: int) -> Dict[str, Tensor]:
    """Per-bin counts, accuracy and mean confidence for a reliability diagram.

    The bins are those of
    :func:`mmmixmo.evaluation.functional.expected_calibration_error`: the
    confidence is the max probability, ``[0, 1]`` is cut into ``num_bins``
    right-closed bins ``(b / B, (b + 1) / B]`` (the first also holds 0).
    That module returns the ECE only, not the per-bin statistics, so the
    bucketing is repeated here; the ECE implied by these bins is checked
    against that function on every call (``RuntimeError`` if they differ),
    so the figure cannot drift from the metric.

    Args:
        probs (Tensor): Probabilities of shape ``(N, K)``.
        labels (Tensor): Class indices of shape ``(N, )``.
        num_bins (int): Number of bins ``B``.

    Returns:
        dict[str, Tensor]: float64 tensors ``edges`` ``(B + 1, )``,
        ``counts`` ``(B, )``, ``accuracy`` and ``confidence`` ``(B, )`` (the
        bin's accuracy and mean confidence as fractions, NaN for an empty
        bin), and ``ece`` (0-dim, from ``expected_calibration_error``).
    """
    probs = torch.as_tensor(probs).detach().cpu().double()
    labels = torch.as_tensor(labels).detach().cpu().long().reshape(-1)
    ece = expected_calibration_error(probs, labels, num_bins)
    confidence, prediction = probs.max(dim=1)
    correct = (prediction == labels).double()
    edges = torch.arange(num_bins + 1, dtype=torch.float64) / num_bins
    bin_index = torch.bucketize(confidence, edges[1:-1], right=False)
    counts = torch.bincount(bin_index, minlength=num_bins).double()
    sum_conf = torch.bincount(
        bin_index, weights=confidence, minlength=num_bins)
    sum_correct = torch.bincount(
        bin_index, weights=correct, minlength=num_bins)
    binned_ece = float((sum_correct - sum_conf).abs().sum() / probs.size(0))
    if abs(binned_ece - ece) > 1e-9:
        raise RuntimeError(
            'the reliability bins disagree with '
            'mmmixmo.evaluation.functional.expected_calibration_error '
            f'(ECE {binned_ece} vs {ece}); the binning convention of the '
            'metric changed and this tool must follow it')
    nonempty = counts > 0
    nan = torch.full_like(counts, float('nan'))
    return dict(
        edges=edges,
        counts=counts,
        accuracy=torch.where(nonempty, sum_correct / counts.clamp_min(1),
                             nan),
        confidence=torch.where(nonempty, sum_conf / counts.clamp_min(1), nan),
        ece=torch.tensor(ece, dtype=torch.float64))


def ensemble_calibration(results: Sequence[dict],
                         num_bins: int) -> Dict[str, object]:
    """Ensemble scores and reliability bins of the dumped predictions.

    Args:
        results (Sequence[dict]): Output of :func:`load_results`.
        num_bins (int): Number of confidence bins.

    Returns:
        dict: ``scores`` (the keys of ``CalibrationMetric.compute_metrics``:
        ``nll``, ``ece``, ``brier`` and, for ``N >= 4``, ``nll_c``,
        ``ece_c``, ``temperature``), ``bins`` (:func:`reliability_bins` of
        the ensemble probabilities), ``top1`` (percent), ``probs`` ``(N, K)``
        and ``labels`` ``(N, )``.
    """
    metric = CalibrationMetric(num_bins=num_bins)
    metric.process(None, results)
    scores = metric.compute_metrics(metric.results)
    logits = torch.stack([res['logits'] for res in metric.results]).double()
    labels = torch.cat([res['gt_label'] for res in metric.results])
    probs = F.softmax(logits, dim=1)
    bins = reliability_bins(probs, labels, num_bins)
    return dict(
        scores=scores,
        bins=bins,
        top1=top1_accuracy(probs.argmax(dim=1), labels),
        probs=probs,
        labels=labels)


def head_statistics(results: Sequence[dict],
                    num_bins: int) -> Optional[Dict[str, object]]:
    """Per-head accuracy, pairwise agreement and per-head reliability bins.

    Args:
        results (Sequence[dict]): Output of :func:`load_results`.
        num_bins (int): Number of confidence bins.

    Returns:
        dict | None: None without ``head_logits`` or with a single head;
        else ``num_heads`` M, ``agreement`` ``(M, M)`` float64 (fraction of
        samples on which heads i and j have the same argmax, 1 on the
        diagonal), ``head_top1`` (list of M percentages), ``ensemble_top1``
        (percent, argmax of ``pred_score``), ``diversity`` (the keys of
        ``EnsembleDiversityMetric.compute_metrics``) and ``head_bins`` (list
        of M :func:`reliability_bins` of ``softmax(head_logits[:, i])``).
    """
    if 'head_logits' not in results[0]:
        return None
    metric = EnsembleDiversityMetric()
    metric.process(None, results)
    diversity = metric.compute_metrics(metric.results)
    if not diversity:  # M = 1: the metric reports nothing
        return None
    head_preds = torch.stack([res['head_preds'] for res in metric.results])
    labels = torch.cat([res['gt_label'] for res in metric.results])
    pred_labels = torch.cat([res['pred_label'] for res in metric.results])
    num_heads = head_preds.size(1)
    agreement = torch.eye(num_heads, dtype=torch.float64)
    for i, j in combinations(range(num_heads), 2):
        agreement[i, j] = agreement[j, i] = 1.0 - pairwise_disagreement(
            head_preds[:, [i, j]])
    head_logits = torch.stack([
        torch.as_tensor(sample['head_logits']).detach().cpu().double()
        for sample in results
    ])
    head_bins = [
        reliability_bins(
            F.softmax(head_logits[:, i], dim=1), labels, num_bins)
        for i in range(num_heads)
    ]
    return dict(
        num_heads=num_heads,
        agreement=agreement,
        head_top1=[diversity[f'head{i}_top1'] for i in range(num_heads)],
        ensemble_top1=top1_accuracy(pred_labels, labels),
        diversity=diversity,
        head_bins=head_bins)


def plot_reliability(calib: Dict[str, object], title: str,
                     out_file: str) -> None:
    """Draw the ensemble reliability diagram and confidence histogram.

    Args:
        calib (dict): Output of :func:`ensemble_calibration`.
        title (str): Figure title.
        out_file (str): PNG path.
    """
    bins = calib['bins']
    scores = calib['scores']
    edges = bins['edges'].numpy()
    centres = (edges[:-1] + edges[1:]) / 2
    width = edges[1] - edges[0]
    counts = bins['counts'].numpy()
    acc = bins['accuracy'].numpy()
    conf = bins['confidence'].numpy()
    nonempty = counts > 0
    num_samples = int(counts.sum())

    fig = Figure(figsize=(6, 7.5), dpi=DPI, layout='constrained')
    ax_rel, ax_hist = fig.subplots(
        2, 1, sharex=True, gridspec_kw=dict(height_ratios=[3, 1.3]))
    ax_rel.bar(
        centres[nonempty],
        acc[nonempty],
        width=width,
        color='tab:blue',
        edgecolor='black',
        linewidth=0.6,
        label=f'Accuracy per bin (ECE = {100 * scores["ece"]:.2f}%)')
    ax_rel.bar(
        centres[nonempty],
        (conf - acc)[nonempty],
        bottom=acc[nonempty],
        width=width,
        color='tab:red',
        alpha=0.3,
        edgecolor='tab:red',
        hatch='//',
        linewidth=0.6,
        label='Gap to the mean confidence')
    ax_rel.plot([0, 1], [0, 1], 'k--', linewidth=1, label='Perfect '
                'calibration')
    ax_rel.set_xlim(0, 1)
    ax_rel.set_ylim(0, 1)
    ax_rel.set_ylabel('Accuracy')
    ax_rel.set_title(title)
    ax_rel.legend(loc='upper left', fontsize=8)
    ax_rel.grid(alpha=0.3)
    summary = (f'N = {num_samples}, {len(bins["counts"])} bins\n'
               f'top-1 = {calib["top1"]:.2f}%\n'
               f'NLL = {scores["nll"]:.4f}\n'
               f'Brier = {scores["brier"]:.4f}')
    if 'ece_c' in scores:
        summary += (f'\nECE after temp. scaling = {100 * scores["ece_c"]:.2f}%'
                    f' (T = {scores["temperature"]:.2f})')
    # Upper left, under the legend: above the diagonal, where the bars of a
    # classifier rarely reach (low-confidence bins have low accuracy).
    ax_rel.text(
        0.02,
        0.80,
        summary,
        transform=ax_rel.transAxes,
        ha='left',
        va='top',
        fontsize=8,
        bbox=dict(boxstyle='round', facecolor='white', alpha=0.85))

    ax_hist.bar(
        centres,
        counts / max(num_samples, 1),
        width=width,
        color='tab:gray',
        edgecolor='black',
        linewidth=0.6)
    mean_conf = float(calib['probs'].max(dim=1).values.mean())
    ax_hist.axvline(
        calib['top1'] / 100,
        color='tab:blue',
        linestyle='-',
        label=f'Accuracy ({calib["top1"]:.1f}%)')
    ax_hist.axvline(
        mean_conf,
        color='tab:red',
        linestyle='--',
        label=f'Mean confidence ({100 * mean_conf:.1f}%)')
    ax_hist.set_xlabel('Confidence (max predicted probability)')
    ax_hist.set_ylabel('Fraction of samples')
    ax_hist.legend(loc='best', fontsize=8)
    ax_hist.grid(alpha=0.3)
    fig.savefig(out_file)


def plot_head_agreement(heads: Dict[str, object], title: str,
                        out_file: str) -> None:
    """Draw the ``M x M`` agreement matrix of the heads' argmax.

    Args:
        heads (dict): Output of :func:`head_statistics`.
        title (str): Figure title.
        out_file (str): PNG path.
    """
    num_heads = heads['num_heads']
    agreement = 100 * heads['agreement'].numpy()
    head_top1 = heads['head_top1']
    diversity = heads['diversity']
    size = 2.5 + 1.1 * num_heads
    fig = Figure(figsize=(size + 1.2, size), dpi=DPI, layout='constrained')
    ax = fig.subplots()
    low = min(float(np.floor(agreement.min() / 10) * 10), 90.0)
    image = ax.imshow(agreement, cmap='viridis', vmin=low, vmax=100)
    for i in range(num_heads):
        for j in range(num_heads):
            shade = (agreement[i, j] - low) / max(100 - low, 1e-9)
            ax.text(
                j,
                i,
                f'{agreement[i, j]:.1f}%',
                ha='center',
                va='center',
                fontsize=9,
                color='black' if shade > 0.6 else 'white')
    labels = [
        f'head {i}\ntop-1 {acc:.1f}%' for i, acc in enumerate(head_top1)
    ]
    ax.set_xticks(range(num_heads), labels, fontsize=8)
    ax.set_yticks(range(num_heads), labels, fontsize=8)
    colorbar = fig.colorbar(image, ax=ax, shrink=0.8)
    colorbar.set_label('Agreement of the heads\' argmax (%)')
    ax.set_title(
        f'{title}\nensemble top-1 {heads["ensemble_top1"]:.2f}% | mean head '
        f'top-1 {sum(head_top1) / num_heads:.2f}%\nmean disagreement '
        f'{100 * diversity["disagreement"]:.2f}% | ensemble gain '
        f'{diversity["ensemble_gain"]:+.2f} pts',
        fontsize=9)
    fig.savefig(out_file)


def plot_head_reliability(calib: Dict[str, object], heads: Dict[str, object],
                          title: str, out_file: str) -> None:
    """Overlay the reliability curves of every head and of the ensemble.

    Args:
        calib (dict): Output of :func:`ensemble_calibration`.
        heads (dict): Output of :func:`head_statistics`.
        title (str): Figure title.
        out_file (str): PNG path.
    """
    fig = Figure(figsize=(6, 6), dpi=DPI, layout='constrained')
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], 'k--', linewidth=1, label='Perfect calibration')
    curves = [(f'head {i}', bins, dict(marker='o', markersize=3,
                                       linewidth=1))
              for i, bins in enumerate(heads['head_bins'])]
    curves.append(('ensemble', calib['bins'],
                   dict(marker='s', markersize=4, linewidth=2,
                        color='black')))
    for name, bins, style in curves:
        nonempty = (bins['counts'] > 0).numpy()
        ax.plot(
            bins['confidence'].numpy()[nonempty],
            bins['accuracy'].numpy()[nonempty],
            label=f'{name} (ECE = {100 * float(bins["ece"]):.2f}%)',
            **style)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel('Mean confidence of the bin')
    ax.set_ylabel('Accuracy of the bin')
    ax.set_title(f'{title}\nper-head reliability '
                 f'({len(calib["bins"]["counts"])} bins)')
    ax.legend(loc='upper left', fontsize=8)
    ax.grid(alpha=0.3)
    fig.savefig(out_file)


def main(argv: Optional[List[str]] = None) -> Dict[str, str]:
    """Write the figures; returns ``{figure name: PNG path}``."""
    args = parse_args(argv)
    results = load_results(args.results)
    out_dir = args.out_dir or osp.dirname(osp.abspath(args.results))
    os.makedirs(out_dir, exist_ok=True)
    title = args.title or osp.splitext(osp.basename(args.results))[0]

    written = dict()
    calib = ensemble_calibration(results, args.num_bins)
    written['reliability'] = osp.join(out_dir, 'reliability.png')
    plot_reliability(calib, title, written['reliability'])
    print(f'ECE = {calib["scores"]["ece"]:.4f} ({args.num_bins} bins), '
          f'top-1 = {calib["top1"]:.2f}% on {len(results)} samples')

    heads = head_statistics(results, args.num_bins)
    if heads is None:
        reason = ('no `head_logits` (single-output model)'
                  if 'head_logits' not in results[0] else 'a single head')
        print(f'The results have {reason}: only reliability.png is written, '
              'no head_agreement.png / head_reliability.png.')
    else:
        written['head_agreement'] = osp.join(out_dir, 'head_agreement.png')
        plot_head_agreement(heads, title, written['head_agreement'])
        written['head_reliability'] = osp.join(out_dir,
                                               'head_reliability.png')
        plot_head_reliability(calib, heads, title,
                              written['head_reliability'])
        print(f'{heads["num_heads"]} heads: top-1 ' + ', '.join(
            f'{acc:.2f}%' for acc in heads['head_top1']) +
              f'; ensemble top-1 {heads["ensemble_top1"]:.2f}%')
    for path in written.values():
        print(f'saved {path}')
    return written


if __name__ == '__main__':
    main()
