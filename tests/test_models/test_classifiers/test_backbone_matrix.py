"""MixMo on the backbones of mmpretrain and timm.

For each family, a tiny variant on 32x32 images, 10 classes, M = 2,
Cut-MixMo: the encoder layer is found without being named, the parameters
are the single network's plus (M - 1) first convolutions and (M - 1) heads,
two training iterations run through mmengine's ``Runner`` with finite
losses, and the eval-mode predictions are those of :func:`fold_mixmo`'s
single network.
"""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModule
from mmengine.runner import Runner
from mmpretrain.registry import MODELS
from torch import nn

import mmmixmo  # noqa: F401
from mmmixmo.models.classifiers import fold_mixmo
from tests.utils.models import randomize_weights

NUM_CLASSES = 10
NUM_MEMBERS = 2
SIZE = 32
GAP = dict(type='GlobalAveragePooling')
VIT_ARCH = dict(
    embed_dims=32, num_layers=1, num_heads=2, feedforward_channels=64)

# family: (backbone, neck, feature channels, encoder layer). Backbones with
# flat (B, C) features (cls token, pooled ConvNeXt) take no neck. 32x32
# inputs everywhere.
FAMILIES = {
    'ResNet': (dict(type='ResNet', depth=18, stem_channels=8,
                    base_channels=8), GAP, 64, 'conv1'),
    'ResNetV1d': (dict(
        type='ResNetV1d', depth=18, stem_channels=8,
        base_channels=8), GAP, 64, 'stem.0.conv'),
    # ResNeXt and SEResNet exist from depth 50 on: 2 stages of it
    'ResNeXt': (dict(
        type='ResNeXt',
        depth=50,
        num_stages=2,
        strides=(1, 2),
        dilations=(1, 1),
        out_indices=(1, ),
        stem_channels=8,
        base_channels=8,
        groups=2,
        width_per_group=4), GAP, 64, 'conv1'),
    'SEResNet': (dict(
        type='SEResNet',
        depth=50,
        num_stages=2,
        strides=(1, 2),
        dilations=(1, 1),
        out_indices=(1, ),
        stem_channels=8,
        base_channels=8), GAP, 64, 'conv1'),
    # stage widths 8 and 16
    'RegNet': (dict(
        type='RegNet',
        arch=dict(w0=8, wa=8.0, wm=2.0, group_w=8, depth=2, bot_mul=1.0),
        strides=(2, 2),
        dilations=(1, 1),
        out_indices=(1, ),
        stem_channels=8), GAP, 16, 'conv1'),
    # globally pooled before its final norm: (B, C)
    'ConvNeXt': (dict(
        type='ConvNeXt',
        arch=dict(depths=[1, 1], channels=[8, 16]),
        out_indices=(1, )), None, 16, 'downsample_layers.0.0'),
    # b0 is the smallest arch (widths and depths are not configurable); the
    # first convolution is mmcv's Conv2dAdaptivePadding (TF "same")
    'EfficientNet': (dict(type='EfficientNet', arch='b0', out_indices=(2, )),
                     GAP, 24, 'layers.0.conv'),
    'MobileNetV2': (dict(
        type='MobileNetV2', widen_factor=0.25, out_indices=(2, )), GAP, 8,
                    'conv1.conv'),
    'MobileNetV3': (dict(type='MobileNetV3', arch='small', out_indices=(3, )),
                    GAP, 24, 'layer0.conv'),
    # patch 6 does not divide 32: PatchEmbed's AdaptivePadding (padding=
    # 'corner') pads the stacked member images to 36x36 before the encoders
    'VisionTransformer': (dict(
        type='VisionTransformer',
        arch=VIT_ARCH,
        img_size=SIZE,
        patch_size=6,
        out_type='cls_token'), None, 32, 'patch_embed.projection'),
    # DeiT's DeiTClsHead does not apply to MixMo: in mmpretrain 1.2.0 it is
    # an evaluation-only head (its distilled configs say "only for
    # evaluation" and its forward warns "MMPretrain cannot train the
    # distilled version DeiT": there is no teacher, its loss fits the mean of
    # the cls and dist heads to the labels), it is one head where MixMo needs
    # M (MultiHeadClsHead, whose loss takes the mixing masks), and the
    # backbone's 'cls_token' output is a (cls, dist) pair that a linear head
    # cannot read. MixMo uses the DistilledVisionTransformer backbone (the
    # dist token is kept as a token the layers attend to) with the pooled
    # patch tokens.
    'DeiT': (dict(
        type='DistilledVisionTransformer',
        arch=VIT_ARCH,
        img_size=SIZE,
        patch_size=6,
        out_type='avg_featmap'), None, 32, 'patch_embed.projection'),
    # 8x8 patches, windows of 4x4
    'Swin': (dict(
        type='SwinTransformer',
        arch=dict(embed_dims=8, depths=[1, 1], num_heads=[1, 2]),
        img_size=SIZE,
        window_size=4,
        out_indices=(1, )), GAP, 16, 'patch_embed.projection'),
    # timm through mmpretrain's TIMMBackbone, pretrained=False
    'timm-resnet': (dict(
        type='TIMMBackbone',
        model_name='resnet18',
        layers=[1, 1, 1, 1],
        channels=(8, 16, 32, 64)), GAP, 64, 'timm_model.conv1'),
    'timm-efficientnet': (dict(
        type='TIMMBackbone', model_name='test_efficientnet'), GAP, 256,
                          'timm_model.conv_stem'),
    # TIMMBackbone resets the classifier with global_pool='', after which a
    # ViT returns all its tokens (B, N, C): features_only gives (B, C, h, w)
    # maps. dynamic_img_pad: patch 6 pads 32 to 36 before the encoders.
    'timm-vit': (dict(
        type='TIMMBackbone',
        model_name='test_vit',
        img_size=SIZE,
        patch_size=6,
        dynamic_img_pad=True,
        depth=2,
        features_only=True,
        out_indices=(1, )), GAP, 64, 'timm_model.model.patch_embed.proj'),
}
PREPROCESSOR = dict(
    type='MixMoDataPreprocessor',
    mean=[125.3, 123.0, 113.9],
    std=[51.6, 50.8, 51.3],
    to_rgb=True)


def mixmo_cfg(family: str, **kwargs) -> dict:
    """Cut-MixMo on ``family``'s backbone, its encoder layer not named.

    ``prob=1.0``: the binary (cut) block in every iteration, where the
    configs' 0.5 (drawn once per batch) could run linear mixing only.
    """
    backbone, neck, channels, _ = FAMILIES[family]
    return dict(
        type='MixMoClassifier',
        num_members=NUM_MEMBERS,
        backbone=backbone,
        neck=neck,
        mixing=dict(type='CutOrLinearMixing', alpha=2.0, prob=1.0),
        head=dict(
            type='MultiHeadClsHead',
            num_classes=NUM_CLASSES,
            in_channels=channels),
        data_preprocessor=PREPROCESSOR,
        **kwargs)


def vanilla_cfg(family: str) -> dict:
    """The single network: same backbone and neck, one linear head."""
    backbone, neck, channels, _ = FAMILIES[family]
    return dict(
        type='ImageClassifier',
        backbone=backbone,
        neck=neck,
        head=dict(
            type='LinearClsHead',
            num_classes=NUM_CLASSES,
            in_channels=channels))


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def output_of(module: nn.Module, model: nn.Module,
              inputs: torch.Tensor) -> torch.Tensor:
    """What ``module`` (a part of ``model``) outputs when ``model`` runs
    ``mode='tensor'`` on ``inputs``."""
    outputs = []
    handle = module.register_forward_hook(
        lambda _, __, output: outputs.append(output))
    try:
        with torch.no_grad():
            model(inputs, mode='tensor')
    finally:
        handle.remove()
    return outputs[0]


@pytest.fixture(params=list(FAMILIES))
def family(request) -> str:
    if request.param.startswith('timm-'):
        pytest.importorskip('timm')  # the optional extra `mmmixmo[timm]`
    return request.param


def test_encoder_layer_and_parameter_count(family):
    model = MODELS.build(mixmo_cfg(family))
    assert model.encoder_layer == FAMILIES[family][3]
    vanilla = MODELS.build(vanilla_cfg(family))
    conv = vanilla.backbone.get_submodule(model.encoder_layer)
    assert isinstance(conv, nn.Conv2d)
    head = vanilla.head.fc
    assert num_params(model) == (
        num_params(vanilla) + (NUM_MEMBERS - 1) *
        (num_params(conv) + num_params(head)))
    folded_cfg, weights = fold_mixmo(mixmo_cfg(family), model.state_dict())
    folded = MODELS.build(folded_cfg)
    folded.load_state_dict(weights)
    assert num_params(folded) == num_params(vanilla)


def test_two_runner_iterations_of_cut_mixmo(family, fake_cifar10_root,
                                            tmp_path):
    # 2 images per step, each in b = 2 slots of both members: batches of 4
    cfg = Config(
        dict(
            model=mixmo_cfg(family),
            work_dir=str(tmp_path),
            experiment_name=family,
            train_dataloader=dict(
                batch_size=2,
                num_workers=0,
                dataset=dict(
                    type='LocalCIFAR10',
                    data_root=fake_cifar10_root,
                    check_md5=False,
                    indices=4,
                    pipeline=[
                        dict(
                            type='MemberViews',
                            num_repeats=2,
                            num_members=NUM_MEMBERS,
                            transforms=[
                                dict(
                                    type='RandomCrop',
                                    crop_size=SIZE,
                                    padding=4),
                                dict(
                                    type='RandomFlip',
                                    prob=0.5,
                                    direction='horizontal')
                            ]),
                        dict(type='PackInputs')
                    ]),
                sampler=dict(type='DefaultSampler', shuffle=True)),
            train_cfg=dict(by_epoch=True, max_epochs=1),
            optim_wrapper=dict(
                optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
            default_hooks=dict(checkpoint=None),
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            randomness=dict(seed=0),
            default_scope='mmpretrain',
            log_level='WARNING'))
    runner = Runner.from_cfg(cfg)
    assert runner.model.encoder_layer == FAMILIES[family][3]
    drawn = []  # the masks of each batch, from the mixing block
    runner.model.mixing.register_forward_hook(
        lambda module, args, output: drawn.append(output[1]))
    runner.train()
    assert runner.iter == 2
    hub = runner.message_hub
    for key in ['loss'] + [f'loss_head{i}' for i in range(NUM_MEMBERS)]:
        losses = hub.get_scalar(f'train/{key}').data[0]
        assert len(losses) == 2 and all(map(math.isfinite, losses)), key
    # the last batch was cut-mixed: binary masks on the grid of the single
    # network's first convolution (ViTs: 6x6 patches of the padded 36x36)
    masks = drawn[-1]
    assert len(drawn) == 2 and runner.model._slot.masks is None
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    vanilla = MODELS.build(vanilla_cfg(family)).eval()
    encoding = output_of(
        vanilla.backbone.get_submodule(FAMILIES[family][3]), vanilla,
        torch.zeros(1, 3, SIZE, SIZE))
    assert masks.shape == (4, NUM_MEMBERS, *encoding.shape[2:])
    assert not osp.exists(osp.join(str(tmp_path), 'epoch_1.pth'))


def test_predictions_are_the_folded_network(family):
    cfg = mixmo_cfg(family)
    model = MODELS.build(cfg)
    model.init_weights()
    randomize_weights(model)  # BN statistics and affines away from (0, 1)
    with torch.no_grad():  # logits of order 1, so that 1e-5 means something
        fc = model.head.fc
        fc.weight.normal_(0, 1 / math.sqrt(fc.in_features))
        fc.bias.normal_(0, 0.2)
    folded_cfg, weights = fold_mixmo(cfg, model.state_dict())
    folded = MODELS.build(folded_cfg).eval()
    folded.load_state_dict(weights)

    inputs = torch.randn(4, 3, SIZE, SIZE)
    # the folded encoders give the single network's first convolution
    encoding = output_of(model._slot, model, inputs)
    expected_encoding = output_of(
        folded.backbone.get_submodule(model.encoder_layer), folded, inputs)
    assert encoding.shape == expected_encoding.shape
    with torch.no_grad():
        heads = model(inputs, mode='tensor')
        expected = folded(inputs, mode='tensor')
    assert heads.shape == (4, NUM_MEMBERS, NUM_CLASSES)
    diff = (heads.mean(1) - expected).abs().max().item()
    print(f'\n{family}: fold max abs diff {diff:.3g} '
          f'(max |logit| {expected.abs().max().item():.3g})')
    assert expected.abs().max() > 0.1
    assert diff <= 1e-5

    # pred_score through both data preprocessors
    data = dict(inputs=[
        torch.randint(0, 256, (3, SIZE, SIZE), dtype=torch.uint8)
        for _ in range(4)
    ])
    with torch.no_grad():
        got = torch.stack([s.pred_score for s in model.test_step(data)])
        want = torch.stack([s.pred_score for s in folded.test_step(data)])
    torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


@MODELS.register_module(force=True)
class TwoImageConvs(BaseModule):
    """A backbone whose first convolution's output has the image's 3
    channels, so that two convolutions take 3 channels."""

    def __init__(self):
        super().__init__()
        self.to_rgb = nn.Conv2d(3, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1)

    def forward(self, x):
        return (self.stem(torch.relu(self.bn(self.to_rgb(x)))), )


def test_ambiguous_repvgg_stem_names_encoder_layer():
    # RepVGG's training-time stem sums a 3x3 and a 1x1 convolution of the
    # image: MixMo needs one convolution to replace, naming one branch would
    # leave the other reading the stacked member images
    cfg = mixmo_cfg('ResNet')
    cfg['backbone'] = dict(type='RepVGG', arch='A0', base_channels=8)
    cfg['head']['in_channels'] = 160
    with pytest.raises(ValueError, match=r'model\.encoder_layer') as error:
        MODELS.build(cfg)
    assert 'stem.branch_3x3.conv' in str(error.value)
    assert 'stem.branch_1x1.conv' in str(error.value)


def test_ambiguous_custom_backbone_and_named_encoder_layer():
    cfg = mixmo_cfg('ResNet')
    cfg['backbone'] = dict(type='TwoImageConvs')
    cfg['head']['in_channels'] = 8
    with pytest.raises(ValueError, match=r'model\.encoder_layer') as error:
        MODELS.build(cfg)
    assert 'to_rgb' in str(error.value) and 'stem' in str(error.value)
    with pytest.raises(ValueError, match=r"model\.encoder_layer='bn'"):
        MODELS.build(dict(cfg, encoder_layer='bn'))

    cfg['encoder_layer'] = 'to_rgb'
    model = MODELS.build(cfg)
    assert model.encoder_layer == 'to_rgb'
    assert isinstance(model.backbone.stem, nn.Conv2d)  # left in place
    model.train()
    feats = model.extract_feat(torch.randn(4, NUM_MEMBERS, 3, SIZE, SIZE))
    assert feats[-1].shape == (4, 8)
    randomize_weights(model, linear_std=0.5)
    folded_cfg, weights = fold_mixmo(cfg, model.state_dict())
    folded = MODELS.build(folded_cfg).eval()
    folded.load_state_dict(weights)
    inputs = torch.randn(4, 3, SIZE, SIZE)
    with torch.no_grad():
        torch.testing.assert_close(
            model(inputs, mode='tensor').mean(1),
            folded(inputs, mode='tensor'),
            atol=1e-5,
            rtol=0)
