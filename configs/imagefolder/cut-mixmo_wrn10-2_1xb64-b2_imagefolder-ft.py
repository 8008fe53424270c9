# Cut-MixMo WRN-10-2, b = 2, fine-tuned for 2 epochs from the trained single
# WRN-10-2 (README.md): its first convolution / M starts every member
# encoder and its head every head, so training starts at its accuracy.
_base_ = ['./cut-mixmo_wrn10-2_1xb64-b2_imagefolder.py']

load_from = 'work_dirs/vanilla_wrn10-2_1xb64_imagefolder/epoch_4.pth'
# 2 epochs, cosine from lr 0.01 / b to 0, no warm-up
max_epochs = 2
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=0,
        end=max_epochs,
        T_max=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
optim_wrapper = dict(optimizer=dict(lr=0.01 / 2))
