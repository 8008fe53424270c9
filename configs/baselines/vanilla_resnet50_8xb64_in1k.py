# ResNet-50, ImageNet-1k, on MIMO's schedule: the like-for-like single network.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs64.py',
    '../_base_/schedules/imagenet_150e.py',
    '../_base_/default_runtime.py',
]

# mmpretrain's ImageClassifier whose predictions also carry the logits
# (energy and max-logit OOD scores) and a post-hoc calibration
model = dict(type='VanillaClassifier')
