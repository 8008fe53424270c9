from .calibration_metric import CalibrationMetric
from .corruption_metric import CorruptionMetric
from .ensemble_diversity_metric import EnsembleDiversityMetric

__all__ = ['CalibrationMetric', 'CorruptionMetric', 'EnsembleDiversityMetric']
