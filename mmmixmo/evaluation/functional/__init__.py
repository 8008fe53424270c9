from .calibration import (brier_score, ensemble_logits_from_probs,
                          expected_calibration_error, fit_temperature,
                          reliability_bins, temperature_scaled_nll,
                          two_fold_temperature_scaling)
from .diversity import (disagreement_matrix, pairwise_disagreement,
                        ratio_errors, top1_accuracy)

__all__ = [
    'brier_score', 'ensemble_logits_from_probs', 'expected_calibration_error',
    'fit_temperature', 'reliability_bins', 'temperature_scaled_nll',
    'two_fold_temperature_scaling', 'disagreement_matrix',
    'pairwise_disagreement', 'ratio_errors', 'top1_accuracy'
]
