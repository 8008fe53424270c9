from .mixmo_classifier import MixMoClassifier

__all__ = ['MixMoClassifier']
