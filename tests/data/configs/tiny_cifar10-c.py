# Tiny configs/corruptions/ CIFAR-10-C config (WRN-10-1) for tests/test_tools/.
_base_ = [
    '../../../configs/corruptions/cut-mixmo_wrn28-10_1xb64-b4_cifar10-c.py'
]

model = dict(
    backbone=dict(depth=10, widen_factor=1), head=dict(in_channels=64))
test_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False)
