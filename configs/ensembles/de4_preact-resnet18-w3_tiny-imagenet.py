# Deep ensemble of 4 independently trained vanilla PreActResNet-18-w3 on Tiny
# ImageNet (the 4-net deep ensemble of the method doc's w = 3 line).
# Published by the authors: 69.72 top-1.
#
# Evaluation only (see README.md in this folder): each member is trained with
# ../baselines/vanilla_preact-resnet18-w3_1xb100_tiny-imagenet.py and its own
# seed, the four checkpoints are merged with
# tools/analysis_tools/merge_ensemble_checkpoints.py and the merged checkpoint
# is evaluated with `python tools/test.py <this config> merged.pth`.
# Data, test pipeline, normalisation and evaluators are those of the members'
# config; its training settings are inherited only as the members' recipe.
_base_ = ['../baselines/vanilla_preact-resnet18-w3_1xb100_tiny-imagenet.py']

# pred_score = mean of the members' softmax (the classic deep-ensemble rule);
# average='logits' gives MixMo's head rule, softmax of the mean logits.
model = dict(
    _delete_=True,
    type='EnsembleClassifier',
    member={{_base_.model}},
    num_members=4,
    average='probs')
