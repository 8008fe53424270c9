# Deep ensemble of 2 independently trained CutMix WRN-28-10 on CIFAR-100
# (the paper's "DE (2 Nets) + CutMix" row). Published by the authors: 85.74
# top-1, NLL_c 0.571.
#
# Evaluation only (see README.md in this folder): each member is trained with
# ../baselines/cutmix_wrn28-10_1xb64_cifar100.py and its own seed, the two
# checkpoints are merged with
# tools/analysis_tools/merge_ensemble_checkpoints.py and the merged checkpoint
# is evaluated with `python tools/test.py <this config> merged.pth`.
# Data, test pipeline, normalisation and evaluators are those of the members'
# config; its training settings are inherited only as the members' recipe.
_base_ = ['../baselines/cutmix_wrn28-10_1xb64_cifar100.py']

# pred_score = mean of the members' softmax (the classic deep-ensemble rule);
# average='logits' gives MixMo's head rule, softmax of the mean logits.
model = dict(
    _delete_=True,
    type='EnsembleClassifier',
    member={{_base_.model}},
    num_members=2,
    average='probs')
