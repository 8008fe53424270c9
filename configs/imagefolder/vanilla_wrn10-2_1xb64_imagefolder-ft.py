# 2 more epochs of the trained single WRN-10-2, lr 0.01: the baseline of
# cut-mixmo_wrn10-2_1xb64-b2_imagefolder-ft.py (README.md).
_base_ = ['./vanilla_wrn10-2_1xb64_imagefolder.py']

load_from = 'work_dirs/vanilla_wrn10-2_1xb64_imagefolder/epoch_4.pth'
# 2 epochs, cosine from lr 0.01 to 0, no warm-up
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
optim_wrapper = dict(optimizer=dict(lr=0.01))
