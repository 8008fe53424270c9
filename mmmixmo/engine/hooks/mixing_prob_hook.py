"""Epoch-wise decay of the Cut-MixMo probability."""
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import IterBasedTrainLoop
from mmpretrain.registry import HOOKS

from ...models.necks import CutOrLinearMixing


def mixing_prob_factor(epoch: int, max_epochs: int,
                       decay_fraction: float) -> float:
    """``min(1, (E - e) / (E * decay_fraction))``, clipped at 0.

    1 until the last ``decay_fraction`` of the E epochs, then a linear decay
    to 0 at the final epoch: with E = 300 and 1/12, 1 up to epoch 275, 0.96
    at 276, 0 at 300. ``epoch`` e is 1-indexed.
    """
    factor = (max_epochs - epoch) / (max_epochs * decay_fraction)
    return min(1.0, max(0.0, factor))


@HOOKS.register_module()
class MixingProbHook(Hook):
    """Decay the probability of ``CutOrLinearMixing`` at the end of training.

    Before every epoch, sets the block's ``prob_factor`` to
    :func:`mixing_prob_factor` and logs ``mixing_prob``. Stateless, so
    resuming is exact.

    Args:
        decay_fraction (float): Fraction of the epochs over which p decays
            to 0, in ``(0, 1]``. Defaults to 1/12, the authors' value.
    """

    def __init__(self, decay_fraction: float = 1 / 12) -> None:
        if not 0 < decay_fraction <= 1:
            raise ValueError('custom_hooks: MixingProbHook.decay_fraction '
                             f'must be in (0, 1], got {decay_fraction}')
        self.decay_fraction = decay_fraction

    def before_train_epoch(self, runner) -> None:
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            raise ValueError('MixingProbHook decays p per epoch: it needs an '
                             'epoch-based train_cfg (by_epoch=True)')
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        blocks = [(name, m) for name, m in model.named_modules()
                  if isinstance(m, CutOrLinearMixing)]
        if not blocks:
            raise ValueError(
                'MixingProbHook needs a CutOrLinearMixing in the model '
                '(model.mixing): remove it from custom_hooks')
        epoch, max_epochs = runner.epoch + 1, runner.max_epochs
        factor = mixing_prob_factor(epoch, max_epochs, self.decay_fraction)
        for name, block in blocks:
            block.prob_factor = factor
            prob = block.prob * factor
            runner.logger.info(f'MixingProbHook: epoch {epoch}/{max_epochs}, '
                               f'{name} p = {block.prob} x {factor:.4f} = '
                               f'{prob:.4f}')
            key = 'train/mixing_prob'
            runner.message_hub.update_scalar(
                key if len(blocks) == 1 else f'{key}/{name}', prob)
