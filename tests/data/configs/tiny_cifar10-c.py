# The CIFAR-10-C test config (configs/corruptions/, Cut-MixMo b = 4) with a
# WRN-10-1 backbone, batch 16 and no workers, for the end-to-end test of
# tools/test.py on a fake CIFAR-10-C (tests/utils/fake_cifar_c.py) whose
# folder the test sets with --cfg-options test_dataloader.dataset.data_root=.
_base_ = [
    '../../../configs/corruptions/cut-mixmo_wrn28-10_1xb64-b4_cifar10-c.py'
]

model = dict(
    backbone=dict(depth=10, widen_factor=1), head=dict(in_channels=64))
test_dataloader = dict(batch_size=16, num_workers=0, persistent_workers=False)
