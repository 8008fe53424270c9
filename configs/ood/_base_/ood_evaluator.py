# Accuracy, calibration, diversity and selective prediction on the
# in-distribution part of an OODDataset; OOD detection on all of it.
ood_evaluator = [
    dict(
        type='InDistributionMetric',
        metric=dict(type='Accuracy', topk=(1, 5))),
    dict(
        type='InDistributionMetric',
        metric=dict(type='CalibrationMetric', num_bins=15)),
    dict(
        type='InDistributionMetric',
        metric=dict(type='EnsembleDiversityMetric')),
    dict(
        type='InDistributionMetric',
        metric=dict(type='SelectivePredictionMetric')),
    dict(type='OODMetric'),
]
