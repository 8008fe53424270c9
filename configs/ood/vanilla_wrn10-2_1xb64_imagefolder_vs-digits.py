# WRN-10-2: image folder vs digits, CPU smoke test.
_base_ = [
    '../imagefolder/vanilla_wrn10-2_1xb64_imagefolder.py',
    './_base_/imagefolder_vs_digits.py',
]

test_dataloader = {{_base_.ood_test_dataloader}}
test_evaluator = {{_base_.ood_evaluator}}
