# Cut-MixMo Swin-T from mmpretrain's ImageNet-1k checkpoint, b = 2, on a
# folder of images at 224 x 224: the ResNet-50 config with Swin-T and its
# AdamW (see README.md).
_base_ = ['./cut-mixmo_resnet50_in1k-pre_1xb64-b2_imagefolder-224px.py']

# mmpretrain's swin-tiny_16xb64_in1k (configs/swin_transformer/metafile.yml):
# the member encoders start as its patch embedding / M; the heads are new
checkpoint = 'https://download.openmmlab.com/mmclassification/v0/swin-transformer/swin_tiny_224_b16x64_300e_imagenet_20210616_090925-66df6be6.pth'  # noqa
model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer',
        arch='tiny',
        img_size=224,
        drop_path_rate=0.2,
        init_cfg=dict(
            type='Pretrained', checkpoint=checkpoint, prefix='backbone')),
    encoder_layer=None,  # found: patch_embed.projection
    head=dict(in_channels=768))
# Swin-T's ImageNet AdamW (1e-3 per 1024 images, weight decay 0.05, none on
# norms, biases and position tables, gradients clipped at norm 5), lr / 5 for
# fine-tuning as the ResNet-50 configs: 1.25e-5 per 64 images, / b
optim_wrapper = dict(
    _delete_=True,
    optimizer=dict(
        type='AdamW',
        lr=1.25e-5 / 2,
        weight_decay=0.05,
        eps=1e-8,
        betas=(0.9, 0.999)),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0,
        custom_keys={
            '.absolute_pos_embed': dict(decay_mult=0.0),
            '.relative_position_bias_table': dict(decay_mult=0.0)
        }),
    clip_grad=dict(max_norm=5.0))
