# An image folder's val/ set, then scikit-learn's digits (32x32) as OOD.
_base_ = ['./ood_evaluator.py']

# test_dataloader = {{_base_.ood_test_dataloader}} replaces the model's
ood_test_dataloader = dict(
    _delete_=True,
    batch_size=128,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OODDataset',
        in_dist=dict(
            type='CustomDataset',
            data_root='data/imagefolder',
            data_prefix='val',
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='PackInputs')]),
        ood=dict(  # held in memory: no LoadImageFromFile
            type='Digits',
            split='test',
            test_size=1787,
            pipeline=[dict(type='PackInputs')])))
