"""The table and the CSV of prediction records (``tools/predict.py``)."""
import csv
from typing import List

from ..evaluation.functional.uncertainty import UNCERTAINTY_SCORES
from ..utils.benchmark import format_table

#: joins the classes of a conformal set in the table and the CSV
SET_SEPARATOR = '|'


def records_table(records: List[dict]) -> str:
    """One line per record: file, class, prob, set (classes joined by
    :data:`SET_SEPARATOR`, ``-`` if empty), members, the uncertainty
    scores and ``flagged``; the columns no record has are left out.

    Args:
        records (list[dict]): Of :func:`predict_files`, with ``flagged``.
    """
    scores = [name for name in UNCERTAINTY_SCORES
              if any(name in r['uncertainty'] for r in records)]
    sets = any('pred_set' in r for r in records)
    members = any('member_labels' in r for r in records)
    header = (['file', 'class', 'prob'] + ['set'] * sets +
              ['members'] * members + scores + ['flag'])
    rows = []
    for r in records:
        row = [r['file'], str(r.get('pred_class', r['pred_label'])),
               f'{r["pred_score"]:.4f}']
        if sets:
            classes = r.get('pred_set_classes', r.get('pred_set'))
            row.append(SET_SEPARATOR.join(map(str, classes)) or '-')
        if members:
            row.append(' '.join(map(str, r.get(
                'member_classes', r.get('member_labels', [])))))
        row += [f'{r["uncertainty"][name]:.4f}' for name in scores]
        rows.append(row + [' '.join(r['flagged'])])
    return format_table(header, rows, left=len(header), markdown=False)


def write_records_csv(records: List[dict], path: str) -> None:
    """One row per record; members and flags space-separated, sets joined by
    :data:`SET_SEPARATOR`; empty cells if absent."""
    fields = ['file', 'pred_label', 'pred_class', 'pred_score', 'pred_set',
              'pred_set_classes', 'member_labels', 'member_classes',
              *UNCERTAINTY_SCORES, 'flagged']
    with open(path, 'w', newline='') as file:
        writer = csv.DictWriter(file, fields)
        writer.writeheader()
        for r in records:
            row = dict(r, **r['uncertainty'])
            row.pop('uncertainty')
            for key in ('member_labels', 'member_classes', 'flagged'):
                row[key] = ' '.join(map(str, r.get(key, [])))
            for key in ('pred_set', 'pred_set_classes'):
                row[key] = SET_SEPARATOR.join(map(str, r.get(key, [])))
            writer.writerow(row)
