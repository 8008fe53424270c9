from .calibration_metric import CalibrationMetric
from .ensemble_diversity_metric import EnsembleDiversityMetric

__all__ = ['CalibrationMetric', 'EnsembleDiversityMetric']
