"""Helpers shared by the tests of the mixing blocks."""
import torch
from torch import Tensor


def is_binary(mask: Tensor) -> bool:
    """Whether every value of ``mask`` is 0 or 1."""
    return bool(((mask == 0) | (mask == 1)).all())


def record_draws(monkeypatch, block) -> dict:
    """Record the ``kappa`` ``(B, M)`` and the ``owner`` of a binary-mask
    block's last batch."""
    rec = {}
    sample_kappa, owner_masks = block.sample_kappa, block.owner_masks

    def record_kappa(*args):
        rec['kappa'] = sample_kappa(*args)
        return rec['kappa']

    def record_owner(area, height, width):
        columns = rec['kappa'].unbind(1)
        rec['owner'] = [torch.equal(area, k) for k in columns].index(True)
        return owner_masks(area, height, width)

    monkeypatch.setattr(block, 'sample_kappa', record_kappa)
    monkeypatch.setattr(block, 'owner_masks', record_owner)
    return rec
