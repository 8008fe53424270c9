from .mixmo_classifier import MixMoClassifier
from .ensemble_classifier import EnsembleClassifier

__all__ = ['MixMoClassifier', 'EnsembleClassifier']
