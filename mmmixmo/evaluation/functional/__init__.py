"""Pure functions behind the mmmixmo evaluation metrics.

They take plain tensors, do all arithmetic in float64 on the CPU and return
Python numbers, so they can be tested by hand and reused outside mmengine.
"""
from .calibration import (brier_score, ensemble_logits_from_probs,
                          expected_calibration_error, fit_temperature,
                          negative_log_likelihood, temperature_scaled_nll,
                          two_fold_temperature_scaling)
from .diversity import pairwise_disagreement, ratio_errors, top1_accuracy

__all__ = [
    'brier_score', 'ensemble_logits_from_probs', 'expected_calibration_error',
    'fit_temperature', 'negative_log_likelihood', 'temperature_scaled_nll',
    'two_fold_temperature_scaling', 'pairwise_disagreement', 'ratio_errors',
    'top1_accuracy'
]
