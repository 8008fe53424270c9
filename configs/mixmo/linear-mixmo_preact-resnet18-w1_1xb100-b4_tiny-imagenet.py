# Linear-MixMo, PreActResNet-18-w1, Tiny ImageNet, M = 2, b = 4.
# Published by the authors: no number in the method doc.
# Global batch: 1 GPU x 100 slots = 100 = 25 distinct images x 4 repeats
# (4000 iterations per epoch); lr = 0.2 / b = 0.05. For N GPUs divide
# train_dataloader.batch_size by N, or pass --auto-scale-lr (base 100).
_base_ = ['./cut-mixmo_preact-resnet18-w1_1xb100-b4_tiny-imagenet.py']

model = dict(mixing=dict(_delete_=True, type='LinearMixing', alpha=2.0))
custom_hooks = []
