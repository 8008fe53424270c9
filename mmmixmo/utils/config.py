"""Load a config and build its model, as the tools and the runner do."""
import copy
from typing import Optional

from mmengine.config import Config, ConfigDict
from mmengine.hub import get_config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from torch import nn


def load_config(path: str, cfg_options: Optional[dict] = None) -> Config:
    """The config at ``path`` (or ``package::path``) with the overrides,
    its default scope set."""
    cfg = get_config(path) if '::' in path else Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    return cfg


def model_config(cfg: Config) -> ConfigDict:
    """A copy of ``cfg.model`` with the top-level ``data_preprocessor``, as
    the runner gives it."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    return model_cfg


def build_model(cfg: Config, mixmo_for: Optional[str] = None) -> nn.Module:
    """The model of :func:`model_config`.

    Args:
        cfg (Config): The config, its default scope set.
        mixmo_for (str, optional): Who needs a ``MixMoClassifier``, for the
            error if the model is another. Defaults to None: any model.

    Raises:
        ValueError: If ``mixmo_for`` is given and the model is not a
            ``MixMoClassifier``.
    """
    model = MODELS.build(model_config(cfg))
    from mmmixmo.models.classifiers import MixMoClassifier
    if mixmo_for is not None and not isinstance(model, MixMoClassifier):
        raise ValueError(f'model.type={cfg.model.type!r}: {mixmo_for} needs '
                         'a MixMoClassifier config (configs/mixmo/)')
    return model
