"""Command line of tools/train.py and tools/test.py, in-process."""
import os
import os.path as osp
import warnings

import pytest
import torch

from tests.conftest import REPO_ROOT
from tests.utils.tools import load_tool

CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_cifar10.py')


def _load_tool(name):
    return load_tool(f'{name}.py')


@pytest.fixture(scope='module')
def train_tool():
    return _load_tool('train')


@pytest.fixture(scope='module')
def test_tool():
    return _load_tool('test')


@pytest.fixture(autouse=True)
def restore_local_rank(monkeypatch):
    # parse_args sets LOCAL_RANK like mmpretrain's tools; undo it afterwards.
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.delenv('LOCAL_RANK')


def _train_cfg(train_tool, *argv):
    return train_tool.build_config(train_tool.parse_args([CONFIG, *argv]))


def test_train_defaults(train_tool):
    args = train_tool.parse_args([CONFIG])
    assert args.resume is None and args.launcher == 'none'
    assert os.environ['LOCAL_RANK'] == '0'
    cfg = train_tool.build_config(args)
    assert cfg.launcher == 'none'
    assert cfg.work_dir == osp.join('./work_dirs', 'tiny_cifar10')
    assert cfg.resume is False and cfg.load_from is None
    assert cfg.optim_wrapper.get('type', 'OptimWrapper') == 'OptimWrapper'
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        assert loader.pin_memory == torch.cuda.is_available()
        assert loader.persistent_workers is False  # num_workers=0
        assert loader.collate_fn == dict(type='default_collate')


def test_train_flags(train_tool, tmp_path):
    cfg = _train_cfg(train_tool, '--work-dir', str(tmp_path), '--amp',
                     '--no-validate', '--auto-scale-lr', '--launcher',
                     'pytorch', '--local-rank', '1')
    assert os.environ['LOCAL_RANK'] == '1'
    assert cfg.work_dir == str(tmp_path)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert cfg.val_cfg is None and cfg.val_dataloader is None
    assert cfg.val_evaluator is None
    assert cfg.auto_scale_lr == dict(base_batch_size=8, enable=True)
    assert cfg.launcher == 'pytorch'


def test_train_resume(train_tool):
    strict = dict(type='mmpretrain.StrictLoadHook')
    cfg = _train_cfg(train_tool, '--resume')
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.custom_hooks[-1] == strict
    cfg = _train_cfg(train_tool, '--resume', 'work/epoch_3.pth')
    assert cfg.resume is True and cfg.load_from == 'work/epoch_3.pth'
    # resuming from the config: strict too; fine-tuning (load_from): not
    cfg = _train_cfg(train_tool, '--cfg-options', 'resume=True')
    assert cfg.custom_hooks[-1] == strict
    cfg = _train_cfg(train_tool, '--cfg-options', 'load_from=a.pth')
    assert strict not in cfg.get('custom_hooks', [])


def test_train_dataloader_options(train_tool):
    cfg = _train_cfg(train_tool, '--cfg-options',
                     'train_dataloader.num_workers=2',
                     'val_dataloader.pin_memory=True',
                     'train_cfg.max_epochs=5')
    # --cfg-options come first; the defaults fill what is still unset.
    assert cfg.train_dataloader.persistent_workers is True
    assert cfg.val_dataloader.pin_memory is True
    assert cfg.train_cfg.max_epochs == 5
    cfg = _train_cfg(train_tool, '--no-pin-memory', '--no-persistent-workers',
                     '--cfg-options', 'train_dataloader.num_workers=2',
                     'val_dataloader.pin_memory=True')
    assert cfg.train_dataloader.persistent_workers is False
    assert cfg.val_dataloader.pin_memory is False


def _derived_config(tmp_path, body):
    path = tmp_path / 'derived.py'
    path.write_text(f'_base_ = [{CONFIG!r}]\n{body}\n')
    return str(path)


def test_train_auto_scale_lr_needs_base_batch_size(train_tool, tmp_path):
    config = _derived_config(tmp_path, 'auto_scale_lr = None')
    with pytest.raises(ValueError, match='auto_scale_lr.base_batch_size'):
        train_tool.build_config(
            train_tool.parse_args([config, '--auto-scale-lr']))
    # --cfg-options are merged first (as upstream), so they can supply it,
    # and the flags still win over them.
    config = _derived_config(tmp_path, 'auto_scale_lr = dict(_delete_=True)')
    with pytest.raises(ValueError, match='auto_scale_lr.base_batch_size'):
        train_tool.build_config(
            train_tool.parse_args([config, '--auto-scale-lr']))
    cfg = train_tool.build_config(
        train_tool.parse_args([
            config, '--auto-scale-lr', '--work-dir',
            str(tmp_path), '--cfg-options',
            'auto_scale_lr.base_batch_size=32', 'work_dir=elsewhere'
        ]))
    assert cfg.auto_scale_lr == dict(base_batch_size=32, enable=True)
    assert cfg.work_dir == str(tmp_path)


def _test_cfg(test_tool, *argv):
    return test_tool.build_config(
        test_tool.parse_args([CONFIG, 'ckpt.pth', *argv]))


def test_test_defaults_and_flags(test_tool, tmp_path):
    cfg = _test_cfg(test_tool)
    assert cfg.load_from == 'ckpt.pth'
    assert cfg.custom_hooks[-1].type == 'mmpretrain.StrictLoadHook'
    assert _test_cfg(test_tool, '--partial-load').custom_hooks[-1].type == \
        'MixingProbHook'
    assert cfg.work_dir == osp.join('./work_dirs', 'tiny_cifar10')
    assert cfg.test_dataloader.pin_memory == torch.cuda.is_available()
    assert cfg.test_dataloader.collate_fn == dict(type='default_collate')
    assert 'fp16' not in cfg.test_cfg
    cfg = _test_cfg(test_tool, '--work-dir', str(tmp_path), '--amp',
                    '--no-pin-memory', '--show-dir', 'vis', '--interval',
                    '3', '--wait-time', '0.5', '--launcher', 'pytorch')
    assert cfg.work_dir == str(tmp_path) and cfg.launcher == 'pytorch'
    assert cfg.test_cfg.fp16 is True
    assert cfg.test_dataloader.pin_memory is False
    visualization = cfg.default_hooks.visualization
    assert visualization.enable is True and visualization.show is False
    assert visualization.out_dir == 'vis'
    assert visualization.interval == 3 and visualization.wait_time == 0.5


def test_test_show_needs_visualization_hook(test_tool, tmp_path):
    config = _derived_config(tmp_path,
                             'default_hooks = dict(visualization=None)')
    with pytest.raises(ValueError, match='default_hooks.visualization'):
        test_tool.build_config(
            test_tool.parse_args([config, 'ckpt.pth', '--show']))


def test_test_out_item_needs_out(test_tool, capsys):
    with pytest.raises(SystemExit):
        test_tool.parse_args([CONFIG, 'ckpt.pth', '--out-item', 'metrics'])
    assert '--out-item needs --out' in capsys.readouterr().err


def test_test_tta_wraps_model_and_pipeline(test_tool):
    plain = _test_cfg(test_tool)
    cfg = _test_cfg(test_tool, '--tta')
    assert cfg.model.type == 'mmpretrain.EnsembleScoreTTA'
    assert cfg.model.module == plain.model
    pipeline = cfg.test_dataloader.dataset.pipeline
    assert pipeline[-1].type == 'TestTimeAug'
    flips, pack = pipeline[-1].transforms
    assert [flip['prob'] for flip in flips] == [1., 0.]
    assert pack == [plain.test_dataloader.dataset.pipeline[-1]]
    assert pipeline[:-1] == plain.test_dataloader.dataset.pipeline[:-1]
    # --cfg-options apply first: to the classifier itself, and the flags
    # win over them
    cfg = _test_cfg(test_tool, '--tta', '--work-dir', 'here', '--cfg-options',
                    'model.head.num_classes=7', 'work_dir=elsewhere',
                    'load_from=other.pth')
    assert cfg.model.module.head.num_classes == 7
    assert cfg.work_dir == 'here' and cfg.load_from == 'ckpt.pth'


@pytest.mark.parametrize('ood', ['svhn', 'digits'])
def test_test_tta_on_an_ood_test_set(test_tool, ood):
    """The in-distribution pipeline gets the flips; the OOD part inherits
    it, or gets its own pipeline flipped."""
    config = osp.join(REPO_ROOT, 'configs', 'ood', {
        'svhn': 'cut-mixmo_wrn28-10_1xb64-b4_cifar10_vs-svhn.py',
        'digits': 'cut-mixmo_wrn10-2_1xb64-b2_imagefolder_vs-digits.py'
    }[ood])
    plain, cfg = (test_tool.build_config(test_tool.parse_args(
        [config, 'ckpt.pth', *flags])) for flags in ([], ['--tta']))
    dataset = cfg.test_dataloader.dataset
    for part in ('in_dist', 'ood'):
        if 'pipeline' not in plain.test_dataloader.dataset[part]:
            assert ood == 'svhn' and 'pipeline' not in dataset[part]
            continue
        before = plain.test_dataloader.dataset[part].pipeline
        after = dataset[part].pipeline
        assert after[:-1] == before[:-1]
        assert after[-1].type == 'TestTimeAug'
        assert after[-1].transforms[1] == [before[-1]]


@pytest.mark.parametrize(
    'tta_type', ['AverageClsScoreTTA', 'mmpretrain.AverageClsScoreTTA'])
def test_test_tta_warns_about_upstream_merger(test_tool, tta_type):
    argv = [CONFIG, 'ckpt.pth', '--tta', '--cfg-options',
            f'tta_model.type={tta_type}']
    with pytest.warns(UserWarning, match=r"set tta_model.type='Ensemble"):
        cfg = test_tool.build_config(test_tool.parse_args(argv))
    assert cfg.model.type == tta_type  # kept: the user asked for it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        _test_cfg(test_tool, '--tta', '--cfg-options',
                  'tta_model.type=EnsembleScoreTTA')
    assert not [w for w in caught if 'tta_model.type' in str(w.message)]


def test_test_out_appends_dump_results(test_tool, tmp_path):
    dump = dict(type='DumpResults', out_file_path='preds.pkl')
    cfg = _test_cfg(test_tool, '--out', 'preds.pkl')
    assert cfg.test_evaluator[-1] == dump
    assert len(cfg.test_evaluator) > 1  # the config's metrics kept
    # an Evaluator config: its metrics list gets it
    config = _derived_config(
        tmp_path, "test_evaluator = dict(_delete_=True, type='Evaluator', "
        "metrics=dict(type='Accuracy'))")
    cfg = test_tool.build_config(
        test_tool.parse_args([config, 'ckpt.pth', '--out', 'preds.pkl']))
    assert cfg.test_evaluator == dict(
        type='Evaluator', metrics=[dict(type='Accuracy'), dump])
    assert _test_cfg(test_tool, '--out', 'm.json', '--out-item',
                     'metrics').test_evaluator == \
        _test_cfg(test_tool).test_evaluator
