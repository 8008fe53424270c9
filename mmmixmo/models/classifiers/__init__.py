from .ensemble_classifier import EnsembleClassifier
from .fold_mixmo import fold_mixmo
from .mixmo_classifier import MixMoClassifier

__all__ = ['EnsembleClassifier', 'fold_mixmo', 'MixMoClassifier']
