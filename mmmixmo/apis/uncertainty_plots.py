"""Reliability, head-agreement, risk-coverage and OOD ROC figures of the
predictions that ``tools/test.py --out`` dumps."""
import os.path as osp
from typing import Dict, List

import mmengine
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..evaluation.functional import (aurc, auroc, disagreement_matrix,
                                     reliability_bins, risk_coverage_curve,
                                     roc_curve, top1_accuracy)
from ..evaluation.metrics import (CalibrationMetric, EnsembleDiversityMetric,
                                  OODMetric, SelectivePredictionMetric)


def load_results(path: str) -> List[dict]:
    """The predictions of a ``tools/test.py --out`` pickle, labelled."""
    results = mmengine.load(path, file_format='pkl')
    if isinstance(results, dict) or not results:
        raise ValueError(f'{path} holds no predictions: dump them with '
                         'tools/test.py --out (not --out-item metrics)')
    for i, sample in enumerate(results):
        if 'gt_label' not in sample:
            raise ValueError(f'sample {i} of {path} has no `gt_label`: the '
                             'test set must be labelled')
    return results


def figure_data(results: List[dict], num_bins: int) -> Dict[str, object]:
    """The data of every figure.

    The metrics' keys, the reliability bins of the ensemble and heads and
    the risk-coverage curve (``pred_score``: confidence = max probability)
    of the in-distribution samples, and, if the results also hold OOD
    samples (``is_ood``), the OOD ROC (OOD positive) of each uncertainty
    score, from the records of the metrics themselves.
    """
    is_ood = torch.tensor([bool(r.get('is_ood', False)) for r in results])
    ood_results = results
    results = [r for r, ood in zip(results, is_ood.tolist()) if not ood]
    if not results:
        raise ValueError(f'all {len(ood_results)} samples are OOD '
                         '(`is_ood`): the figures need in-distribution ones')
    calibration = CalibrationMetric(num_bins)
    diversity = EnsembleDiversityMetric()
    calibration.process(None, results)
    diversity.process(None, results)
    logits, labels = CalibrationMetric.stack(calibration.results)
    probs = F.softmax(logits.double(), dim=1)
    data = dict(
        scores=calibration.compute_metrics(calibration.results),
        diversity=diversity.compute_metrics(diversity.results),
        bins=reliability_bins(probs, labels, num_bins),
        top1=top1_accuracy(probs.argmax(dim=1), labels),
        mean_conf=float(probs.max(dim=1).values.mean()))
    if data['diversity']:
        member_logits = torch.stack([
            torch.as_tensor(r['member_logits']).detach().double()
            for r in results
        ])
        stacked = EnsembleDiversityMetric.stack(diversity.results)
        head_preds, pred_labels = stacked['head_preds'], stacked['pred_label']
        data.update(
            head_bins=[
                reliability_bins(F.softmax(head, dim=1), labels, num_bins)
                for head in member_logits.unbind(1)
            ],
            head_top1=[data['diversity'][f'head{i}_top1']
                       for i in range(head_preds.size(1))],
            agreement=1 - disagreement_matrix(head_preds),
            ensemble_top1=top1_accuracy(pred_labels, labels))
    selective = SelectivePredictionMetric()
    selective.process(None, results)
    confidence, correct = SelectivePredictionMetric.stack(selective.results)
    data.update(
        num_in=len(results),
        risk_coverage=risk_coverage_curve(confidence, correct),
        aurc=aurc(confidence, correct))
    if is_ood.any():
        ood = OODMetric()
        ood.process(None, ood_results)
        names = list(ood.results[0]['scores'])
        scores = {
            name: torch.tensor([r['scores'][name] for r in ood.results],
                               dtype=torch.float64)
            for name in names
        }
        data.update(
            num_ood=int(is_ood.sum()),
            roc={name: roc_curve(scores[name], is_ood)
                 for name in names},
            auroc={name: auroc(scores[name], is_ood)
                   for name in names})
    return data


def plot_reliability(data: dict, title: str, out_file: str) -> Figure:
    bins, scores, top1 = data['bins'], data['scores'], data['top1']
    edges = np.arange(len(bins['counts']) + 1) / len(bins['counts'])
    centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
    counts, acc, conf = (bins[k].numpy()
                         for k in ('counts', 'accuracy', 'confidence'))
    full, num = counts > 0, int(counts.sum())
    fig = Figure(figsize=(6, 7.5), dpi=150, layout='constrained')
    ax_rel, ax_hist = fig.subplots(
        2, 1, sharex=True, gridspec_kw=dict(height_ratios=[3, 1.3]))
    ax_rel.bar(centres[full], acc[full], width=width, color='tab:blue',
               edgecolor='black', linewidth=0.6,
               label=f'Accuracy per bin (ECE = {100 * scores["ece"]:.2f}%)')
    ax_rel.bar(centres[full], (conf - acc)[full], bottom=acc[full],
               width=width, color='tab:red', alpha=0.3, edgecolor='tab:red',
               hatch='//', linewidth=0.6, label='Gap to the mean confidence')
    ax_rel.plot([0, 1], [0, 1], 'k--', linewidth=1,
                label='Perfect calibration')
    ax_rel.set(xlim=(0, 1), ylim=(0, 1), ylabel='Accuracy', title=title)
    _style(ax_rel, 'upper left')
    summary = (f'N = {num}, {len(counts)} bins\ntop-1 = {top1:.2f}%\n'
               f'NLL = {scores["nll"]:.4f}\nBrier = {scores["brier"]:.4f}')
    if 'ece_c' in scores:
        summary += (f'\nECE after temp. scaling = {100 * scores["ece_c"]:.2f}%'
                    f' (T = {scores["temperature"]:.2f})')
    ax_rel.text(0.02, 0.80, summary, transform=ax_rel.transAxes, ha='left',
                va='top', fontsize=8,
                bbox=dict(boxstyle='round', facecolor='white', alpha=0.85))
    ax_hist.bar(centres, counts / max(num, 1), width=width, color='tab:gray',
                edgecolor='black', linewidth=0.6)
    ax_hist.axvline(top1 / 100, color='tab:blue', linestyle='-',
                    label=f'Accuracy ({top1:.1f}%)')
    ax_hist.axvline(data['mean_conf'], color='tab:red', linestyle='--',
                    label=f'Mean confidence ({100 * data["mean_conf"]:.1f}%)')
    ax_hist.set(xlabel='Confidence (max predicted probability)',
                ylabel='Fraction of samples')
    return _save(fig, ax_hist, out_file, 'best')


def plot_head_agreement(data: dict, title: str, out_file: str) -> Figure:
    agreement, diversity = 100 * data['agreement'].numpy(), data['diversity']
    head_top1, num_heads = data['head_top1'], len(agreement)
    size = 2.5 + 1.1 * num_heads
    fig = Figure(figsize=(size + 1.2, size), dpi=150, layout='constrained')
    ax = fig.subplots()
    low = min(float(np.floor(agreement.min() / 10) * 10), 90.0)
    image = ax.imshow(agreement, cmap='viridis', vmin=low, vmax=100)
    for (i, j), value in np.ndenumerate(agreement):
        shade = (value - low) / max(100 - low, 1e-9)
        ax.text(j, i, f'{value:.1f}%', ha='center', va='center', fontsize=9,
                color='black' if shade > 0.6 else 'white')
    labels = [f'head {i}\ntop-1 {acc:.1f}%' for i, acc in enumerate(head_top1)]
    ax.set_xticks(range(num_heads), labels, fontsize=8)
    ax.set_yticks(range(num_heads), labels, fontsize=8)
    fig.colorbar(image, ax=ax, shrink=0.8).set_label(
        'Agreement of the heads\' argmax (%)')
    ax.set_title(
        f'{title}\nensemble top-1 {data["ensemble_top1"]:.2f}% | mean head '
        f'top-1 {sum(head_top1) / num_heads:.2f}%\nmean disagreement '
        f'{100 * diversity["disagreement"]:.2f}% | ensemble gain '
        f'{diversity["ensemble_gain"]:+.2f} pts',
        fontsize=9)
    fig.savefig(out_file)
    return fig


def plot_head_reliability(data: dict, title: str, out_file: str) -> Figure:
    fig = Figure(figsize=(6, 6), dpi=150, layout='constrained')
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1], 'k--', linewidth=1, label='Perfect calibration')
    curves = [(f'head {i}', bins, dict(marker='o', markersize=3, linewidth=1))
              for i, bins in enumerate(data['head_bins'])]
    curves.append(('ensemble', data['bins'],
                   dict(marker='s', markersize=4, linewidth=2, color='black')))
    for name, bins, style in curves:
        full = (bins['counts'] > 0).numpy()
        ax.plot(bins['confidence'].numpy()[full],
                bins['accuracy'].numpy()[full],
                label=f'{name} (ECE = {100 * float(bins["ece"]):.2f}%)',
                **style)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel='Mean confidence of the bin',
           ylabel='Accuracy of the bin', title=f'{title}\nper-head '
           f'reliability ({len(data["bins"]["counts"])} bins)')
    return _save(fig, ax, out_file, 'upper left')


def plot_risk_coverage(data: dict, title: str, out_file: str) -> Figure:
    coverage, risk = (x.numpy() for x in data['risk_coverage'])
    fig = Figure(figsize=(6, 5), dpi=150, layout='constrained')
    ax = fig.subplots()
    ax.plot(coverage, risk, color='tab:blue', linewidth=1.5,
            label=f'AURC = {data["aurc"]:.4f}')
    ax.axhline(1 - data['top1'] / 100, color='tab:gray', linestyle='--',
               linewidth=1, label=f'Error at full coverage '
               f'({100 - data["top1"]:.2f}%)')
    ax.set(xlim=(0, 1), ylim=(0, None), xlabel='Coverage (most confident '
           'first)', ylabel='Risk (error rate of the covered samples)',
           title=f'{title}\nrisk-coverage ({len(coverage)} thresholds)')
    return _save(fig, ax, out_file, 'best')


def plot_ood_roc(data: dict, title: str, out_file: str) -> Figure:
    fig = Figure(figsize=(6, 6), dpi=150, layout='constrained')
    ax = fig.subplots()
    for name, (fpr, tpr, _) in data['roc'].items():
        ax.plot(fpr.numpy(), tpr.numpy(), linewidth=1.5,
                label=f'{name} (AUROC = {data["auroc"][name]:.4f})')
    ax.plot([0, 1], [0, 1], 'k--', linewidth=1, label='Chance')
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel='False positive rate '
           '(in-distribution flagged)', ylabel='True positive rate (OOD '
           'flagged)', title=f'{title}\nOOD detection ({data["num_in"]} '
           f'in, {data["num_ood"]} OOD)')
    return _save(fig, ax, out_file, 'lower right')


def _style(ax: Axes, legend: str) -> None:
    """The legend at ``legend`` and a light grid."""
    ax.legend(loc=legend, fontsize=8)
    ax.grid(alpha=0.3)


def _save(fig: Figure, ax: Axes, out_file: str, legend: str) -> Figure:
    """Style the last axes (:func:`_style`), write the figure."""
    _style(ax, legend)
    fig.savefig(out_file)
    return fig


def plot_figures(data: dict, title: str, out_dir: str) -> Dict[str, str]:
    """Write ``NAME.png`` in ``out_dir`` for every figure ``data`` (of
    :func:`figure_data`) has: reliability, risk_coverage, ood_roc (OOD
    samples), head_agreement and head_reliability (M >= 2 heads).

    Returns:
        dict[str, str]: The written file of each figure.
    """
    plots = dict(
        reliability=plot_reliability, risk_coverage=plot_risk_coverage)
    if 'roc' in data:
        plots['ood_roc'] = plot_ood_roc
    if data['diversity']:
        plots.update(head_agreement=plot_head_agreement,
                     head_reliability=plot_head_reliability)
    written = {}
    for name, plot in plots.items():
        written[name] = osp.join(out_dir, f'{name}.png')
        plot(data, title, written[name])
    return written
