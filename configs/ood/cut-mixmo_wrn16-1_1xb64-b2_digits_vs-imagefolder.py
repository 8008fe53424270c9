# Cut-MixMo WRN-16-1 (b = 2): digits vs image folder, CPU smoke test.
_base_ = [
    '../quickstart/cut-mixmo_wrn16-1_1xb64-b2_digits.py',
    './_base_/digits_vs_imagefolder.py',
]

test_dataloader = {{_base_.ood_test_dataloader}}
test_evaluator = {{_base_.ood_evaluator}}
