from .batch_accuracy import BatchAccuracy
from .calibration_metric import CalibrationMetric
from .conformal_metric import ConformalMetric
from .corruption_metric import CorruptionMetric
from .ensemble_diversity_metric import EnsembleDiversityMetric
from .in_distribution_metric import InDistributionMetric
from .ood_metric import OODMetric
from .selective_prediction_metric import SelectivePredictionMetric

__all__ = [
    'BatchAccuracy', 'CalibrationMetric', 'ConformalMetric',
    'CorruptionMetric', 'EnsembleDiversityMetric', 'InDistributionMetric',
    'OODMetric', 'SelectivePredictionMetric'
]
