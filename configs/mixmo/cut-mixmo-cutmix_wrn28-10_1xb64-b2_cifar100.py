# Cut-MixMo + CutMix, WRN-28-10, CIFAR-100, b = 2: 85.18 top-1 (published).
_base_ = ['./cut-mixmo-cutmix_wrn28-10_1xb64-b4_cifar100.py']

train_dataloader = dict(batch_sampler=dict(num_repeats=2))
optim_wrapper = dict(optimizer=dict(lr=0.05 / 2))
