from .ensemble_classifier import (EnsembleClassifier,
                                  merge_ensemble_checkpoints)
from .fold_mixmo import fold_mixmo, unfold_mixmo
from .mixmo_classifier import MixMoClassifier
from .vanilla_classifier import VanillaClassifier

__all__ = [
    'EnsembleClassifier', 'fold_mixmo', 'merge_ensemble_checkpoints',
    'MixMoClassifier', 'unfold_mixmo', 'VanillaClassifier'
]
