"""The ensemble of M members' logits: mean logits or mean probabilities."""
import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

AVERAGES = ('logits', 'probs')


def ensemble_average(member_logits: Tensor,
                     average: str) -> Tuple[Tensor, Tensor]:
    """Average the members into one prediction.

    Args:
        member_logits (Tensor): Logits ``(B, M, K)``.
        average (str): ``'logits'``: ``softmax(mean_i z_i)`` (MixMo);
            ``'probs'``: ``mean_i softmax(z_i)`` (deep ensembles, MIMO).

    Returns:
        tuple[Tensor, Tensor]: Scores ``(B, K)`` and ensemble logits
        ``(B, K)`` whose softmax they are: the mean logits, or
        ``log(mean_i softmax(z_i))`` computed by logsumexp so that confident
        members do not underflow.
    """
    if average == 'logits':
        logits = member_logits.mean(dim=1)
        return F.softmax(logits, dim=1), logits
    log_probs = F.log_softmax(member_logits, dim=2)
    logits = torch.logsumexp(log_probs, 1) - math.log(log_probs.size(1))
    return F.softmax(member_logits, dim=2).mean(dim=1), logits
