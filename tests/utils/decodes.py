"""Count the image decodes of ``LoadImageFromFile``, per file."""
from collections import Counter
from typing import Iterable

import mmcv
import pytest


def count_decodes(monkeypatch: pytest.MonkeyPatch,
                  paths: Iterable[str]) -> Counter:
    """From now on, count the ``mmcv.imfrombytes`` calls (what
    ``LoadImageFromFile`` decodes with) per file of ``paths``; returns the
    live counter ``{path: decodes}``."""
    files = {}
    for path in paths:
        with open(path, 'rb') as f:
            files[f.read()] = path
    decodes = Counter()
    imfrombytes = mmcv.imfrombytes

    def counting(content, *args, **kwargs):
        decodes[files[content]] += 1
        return imfrombytes(content, *args, **kwargs)

    monkeypatch.setattr(mmcv, 'imfrombytes', counting)
    return decodes
