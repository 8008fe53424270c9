"""Epoch-wise decay of the Cut-MixMo probability."""
from typing import List, Tuple

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from mmpretrain.registry import HOOKS

from mmmixmo.models.necks.cut_or_linear_mixing import CutOrLinearMixing


def _check_decay_fraction(decay_fraction: float) -> float:
    """Validate the ``decay_fraction`` argument of :class:`MixingProbHook`."""
    is_number = isinstance(
        decay_fraction, (int, float)) and not isinstance(decay_fraction, bool)
    if not is_number or not 0 < decay_fraction <= 1:
        raise ValueError('custom_hooks: MixingProbHook.decay_fraction must be '
                         f'in (0, 1], got {decay_fraction!r}')
    return float(decay_fraction)


def mixing_prob_factor(epoch: int,
                       max_epochs: int,
                       decay_fraction: float = 1 / 12) -> float:
    """Factor applied to the Cut-MixMo probability at a given epoch.

    ``factor = min(1, (E - e) / (E * decay_fraction))``: 1 until the last
    ``decay_fraction`` of the training, then a linear decay, once per epoch,
    reaching 0 at the final epoch. With ``E = 300`` and the default 1/12:
    1 up to epoch 275, 0.96 at 276, 0.04 at 299, 0 at 300.

    Args:
        epoch (int): Current epoch ``e``, 1-indexed (``runner.epoch + 1``).
        max_epochs (int): Number of training epochs ``E``.
        decay_fraction (float): Fraction of the epochs over which the
            probability decays, in ``(0, 1]``. Defaults to 1/12, the
            authors' value.

    Returns:
        float: The factor, in ``[0, 1]``.
    """
    decay_fraction = _check_decay_fraction(decay_fraction)
    if max_epochs < 1:
        raise ValueError(
            f'train_cfg.max_epochs must be >= 1, got {max_epochs!r}')
    if epoch < 1:
        raise ValueError(f'`epoch` is 1-indexed and must be >= 1, got {epoch}')
    factor = (max_epochs - epoch) / (max_epochs * decay_fraction)
    return min(1.0, max(0.0, factor))


@HOOKS.register_module()
class MixingProbHook(Hook):
    """Decay the Cut-MixMo probability at the end of training.

    Before every training epoch, sets ``prob_factor`` of every
    :class:`~mmmixmo.models.necks.CutOrLinearMixing` of the (unwrapped)
    model to :func:`mixing_prob_factor` of the current epoch, logs the
    resulting probability ``p = prob * prob_factor`` and records it as the
    scalar ``train/mixing_prob``. The hook keeps no state: the factor is
    recomputed from ``runner.epoch``, so resuming a run is exact.

    Args:
        decay_fraction (float): Fraction of the epochs over which ``p``
            decays linearly to 0, in ``(0, 1]``. Defaults to 1/12.
    """

    priority = 'NORMAL'

    def __init__(self, decay_fraction: float = 1 / 12) -> None:
        self.decay_fraction = _check_decay_fraction(decay_fraction)

    @staticmethod
    def _find_blocks(model) -> List[Tuple[str, CutOrLinearMixing]]:
        if is_model_wrapper(model):
            model = model.module
        return [(name, module) for name, module in model.named_modules()
                if isinstance(module, CutOrLinearMixing)]

    def before_train_epoch(self, runner) -> None:
        """Set the probability factor of the current epoch.

        Args:
            runner (Runner): The runner of the training process.
        """
        if isinstance(getattr(runner, 'train_loop', None), IterBasedTrainLoop):
            raise ValueError(
                'MixingProbHook decays the probability per epoch and needs '
                'an epoch-based train_cfg (by_epoch=True); remove it from '
                'custom_hooks for iteration-based training.')
        blocks = self._find_blocks(runner.model)
        if not blocks:
            raise ValueError(
                'MixingProbHook found no CutOrLinearMixing in the model '
                '(model.mixing); remove MixingProbHook from custom_hooks '
                'when the model does not use CutOrLinearMixing.')
        epoch = runner.epoch + 1
        max_epochs = runner.max_epochs
        factor = mixing_prob_factor(epoch, max_epochs, self.decay_fraction)
        for name, block in blocks:
            block.prob_factor = factor
            prob = block.effective_prob
            runner.logger.info(
                f'MixingProbHook: epoch {epoch}/{max_epochs}, '
                f'{name or "model"}.effective_prob = {block.prob} x '
                f'{factor:.4f} = {prob:.4f}')
            key = 'train/mixing_prob'
            if len(blocks) > 1:
                key = f'{key}/{name}'
            runner.message_hub.update_scalar(key, prob)
