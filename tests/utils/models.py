"""Helpers shared by the tests that compare model outputs."""
from typing import Optional

import torch
from torch import nn


def randomize_weights(model: nn.Module,
                      linear_std: Optional[float] = None) -> nn.Module:
    """Give a model non-trivial BN statistics (and optionally big logits).

    Freshly initialised BN layers are identities in eval mode, which would
    hide folding or averaging mistakes; this draws running statistics and
    affine parameters away from (0, 1). Uses the global torch generator.

    Args:
        model (nn.Module): The model, changed in place.
        linear_std (float, optional): Redraw every ``nn.Linear`` weight and
            bias from ``N(0, linear_std)``. Defaults to None (kept).

    Returns:
        nn.Module: ``model`` in eval mode.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
            if linear_std is not None and isinstance(module, nn.Linear):
                module.weight.normal_(0, linear_std)
                if module.bias is not None:
                    module.bias.normal_(0, linear_std)
    return model.eval()
