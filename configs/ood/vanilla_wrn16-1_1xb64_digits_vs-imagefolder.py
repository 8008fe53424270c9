# WRN-16-1: digits vs image folder, CPU smoke test.
_base_ = [
    '../quickstart/vanilla_wrn16-1_1xb64_digits.py',
    './_base_/digits_vs_imagefolder.py',
]

test_dataloader = {{_base_.ood_test_dataloader}}
test_evaluator = {{_base_.ood_evaluator}}
