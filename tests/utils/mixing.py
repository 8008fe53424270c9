"""Helpers shared by the tests of the mixing blocks."""
from typing import Sequence

import torch


def record_draws(monkeypatch,
                 mixing,
                 names: Sequence[str] = ('sample_kappa', 'sample_owner')):
    """Record what the block's ``sample_*`` methods drew for the last batch.

    Returns a dict filled on every call: ``rec['kappa']``, ``rec['owner']``
    (and e.g. ``rec['layout']`` for ``'sample_layout'``).
    """
    rec = {}
    for name in names:
        real = getattr(mixing, name)
        key = name[len('sample_'):]

        def wrapper(*args, _real=real, _key=key, **kwargs):
            rec[_key] = _real(*args, **kwargs)
            return rec[_key]

        monkeypatch.setattr(mixing, name, wrapper)
    return rec


def is_binary(mask: torch.Tensor) -> bool:
    """Whether every value of ``mask`` is 0 or 1."""
    return bool(((mask == 0) | (mask == 1)).all())


def boundary_fraction(masks: torch.Tensor) -> float:
    """Fraction of 4-neighbour pairs with different values (0.5 if iid)."""
    rows = (masks[:, 1:] != masks[:, :-1]).float().mean()
    cols = (masks[:, :, 1:] != masks[:, :, :-1]).float().mean()
    return ((rows + cols) / 2).item()
