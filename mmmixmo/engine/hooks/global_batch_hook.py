"""Log the global batch and the lr per slot at the start of training."""
from typing import Optional

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

from ...datasets.transforms import MemberViews


def batch_repetition(dataset) -> int:
    """The b of the ``MemberViews`` in a built dataset's pipeline, else 1.

    Dataset wrappers are entered through their ``dataset`` (or first of
    ``datasets``) attribute.
    """
    while not hasattr(dataset, 'pipeline'):
        inner = getattr(dataset, 'dataset', None)
        if inner is None and getattr(dataset, 'datasets', None):
            inner = dataset.datasets[0]
        if inner is None:
            return 1
        dataset = inner
    transforms = list(getattr(dataset.pipeline, 'transforms', []))
    while transforms:
        transform = transforms.pop(0)
        if isinstance(transform, MemberViews):
            return transform.num_repeats
        transforms += list(getattr(transform, 'transforms', []))
    return 1


@HOOKS.register_module()
class GlobalBatchHook(Hook):
    """Say the global batch, the lr per slot and whether the recipe's holds.

    Before training, logs the distinct images per step
    (``train_dataloader.batch_size`` x processes), the slots (x the batch
    repetition b of ``MemberViews``), the lr of the first parameter group
    (after any ``--auto-scale-lr``) and that lr per slot. Warns when the
    images per step differ from ``auto_scale_lr.base_batch_size`` (the
    recipe's) and ``--auto-scale-lr`` is off: the lr is then the recipe's
    for another batch, the most common reason for below-paper accuracy.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        per_gpu = loader.batch_size or getattr(loader.batch_sampler,
                                               'batch_size', None)
        world_size = get_world_size()
        repeats = batch_repetition(loader.dataset)
        images = per_gpu * world_size
        slots = images * repeats
        optim_wrapper = runner.optim_wrapper
        if hasattr(optim_wrapper, 'optim_wrappers'):  # OptimWrapperDict
            optim_wrapper = next(iter(optim_wrapper.values()))
        group = optim_wrapper.param_groups[0]
        # the schedulers' start value, before any warm-up factor
        lr = group.get('initial_lr', group['lr'])
        runner.logger.info(
            f'GlobalBatchHook: global batch {images} images = {per_gpu} '
            f'per process (train_dataloader.batch_size) x {world_size} '
            f'processes; {slots} slots (x b = {repeats}); lr {lr:g}, '
            f'{lr / slots:.4g} per slot')
        self._check_recipe(runner, images, lr)

    @staticmethod
    def _check_recipe(runner, images: int, lr: float) -> None:
        """Warn if the images per step are not the recipe's, unscaled."""
        recipe = runner.auto_scale_lr or {}
        base: Optional[int] = recipe.get('base_batch_size')
        if base is None or base == images:
            return
        if recipe.get('enable', False):
            runner.logger.info(
                f'GlobalBatchHook: lr scaled by {images}/{base} '
                '(--auto-scale-lr) from the recipe\'s '
                f'auto_scale_lr.base_batch_size = {base} images')
            return
        runner.logger.warning(
            f'GlobalBatchHook: {images} images per step, but the recipe is '
            f'for auto_scale_lr.base_batch_size = {base}, and the lr {lr:g} '
            f'is the recipe\'s for {base}: pass --auto-scale-lr (lr x '
            f'{images}/{base} = {lr * images / base:g}) or set the lr '
            'yourself, or the accuracy may fall short of the recipe\'s')
