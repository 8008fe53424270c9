from .ensemble_score_tta import EnsembleScoreTTA

__all__ = ['EnsembleScoreTTA']
