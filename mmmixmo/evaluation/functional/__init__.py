from .calibration import (
    adaptive_calibration_error, adaptive_confidence_error, brier_score,
    calibration_scores, confidence_bins, ensemble_logits_from_probs,
    expected_calibration_error, fit_temperature, reliability_bins,
    scaled_log_norm, softmax_summary, temperature_scaled_nll, two_fold_scores,
    two_fold_temperature_scaling, two_fold_temperatures)
from .conformal_coverage import (SET_SIZE_BUCKETS, coverage_by_size,
                                 set_coverage, set_sizes,
                                 size_stratified_coverage)
from .detection import auroc, average_precision, fpr_at_tpr, roc_curve
from .diversity import (disagreement_matrix, pairwise_disagreement,
                        ratio_errors, top1_accuracy)
from .selective import accuracy_at_coverage, aurc, risk_coverage_curve
from .tace import (mixmo_thresholded_adaptive_calibration_error, tace_pair,
                   thresholded_adaptive_calibration_error)
from .uncertainty import UNCERTAINTY_SCORES, ood_logits, uncertainty_scores

__all__ = [
    'adaptive_calibration_error', 'adaptive_confidence_error', 'brier_score',
    'calibration_scores', 'confidence_bins', 'ensemble_logits_from_probs',
    'expected_calibration_error', 'fit_temperature',
    'mixmo_thresholded_adaptive_calibration_error', 'reliability_bins',
    'scaled_log_norm', 'softmax_summary', 'tace_pair',
    'temperature_scaled_nll',
    'thresholded_adaptive_calibration_error', 'two_fold_scores',
    'two_fold_temperature_scaling', 'two_fold_temperatures',
    'SET_SIZE_BUCKETS', 'coverage_by_size', 'set_coverage', 'set_sizes',
    'size_stratified_coverage', 'auroc', 'average_precision', 'fpr_at_tpr',
    'roc_curve', 'disagreement_matrix', 'pairwise_disagreement',
    'ratio_errors', 'top1_accuracy', 'accuracy_at_coverage', 'aurc',
    'risk_coverage_curve', 'UNCERTAINTY_SCORES', 'ood_logits',
    'uncertainty_scores'
]
