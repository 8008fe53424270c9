# The quickstart's digits test set, then an image folder's val/ as OOD.
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
            type='Digits',
            split='test',
            img_size=32,
            pipeline=[dict(type='PackInputs')]),
        ood=dict(  # JPEG files, decoded as BGR (the digits are grey)
            type='CustomDataset',
            data_root='data/imagefolder',
            data_prefix='val',
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='PackInputs')])))
