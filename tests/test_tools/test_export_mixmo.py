"""tools/deployment/export_mixmo.py, in-process, on a tiny checkpoint.

The model of tests/data/configs/tiny_cifar10.py (Cut-MixMo WRN-10-1, M = 2,
K = 10, CIFAR-10 normalisation) with perturbed BN statistics is saved with
mmengine's ``save_checkpoint``; the tool folds, exports, reloads and checks
it, and the tests reload the file again on a batch of another size.
"""
import importlib.util
import os.path as osp
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmpretrain.registry import MODELS

import mmmixmo  # noqa: F401
from tests.conftest import REPO_ROOT
from tests.utils.models import randomize_weights

CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_cifar10.py')
TOOL = osp.join(REPO_ROOT, 'tools', 'deployment', 'export_mixmo.py')
# WRN-10-1 with Linear(64, 10); MixMo adds a 3x3 conv 3 -> 16 and a
# Linear(64, 10).
VANILLA_PARAMS = 77_850
MIXMO_PARAMS = VANILLA_PARAMS + 432 + 650


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('mmmixmo_tools_export',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    """A tiny MixMo with non-trivial BN statistics, and its checkpoint."""
    torch.manual_seed(0)
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(CONFIG).model)
    randomize_weights(model, linear_std=0.5)
    path = str(tmp_path_factory.mktemp('export') / 'epoch_1.pth')
    save_checkpoint(model.state_dict(), path)
    return dict(path=path, model=model.eval())


@pytest.mark.parametrize('fmt,with_preprocess', [('torchscript', False),
                                                 ('torchscript', True),
                                                 ('export', True)])
def test_export_round_trip(tool, checkpoint, tmp_path, capsys, fmt,
                           with_preprocess):
    out = str(tmp_path / f'folded{tool.FORMATS[fmt]}')
    argv = [
        CONFIG, checkpoint['path'], '--out', out, '--format', fmt,
        '--time-repeats', '20'
    ]
    if with_preprocess:
        argv.append('--with-preprocess')
    result = tool.main(argv)
    printed = capsys.readouterr().out
    assert result['max_abs_diff'] <= 1e-5
    assert result['params_mixmo'] == MIXMO_PARAMS
    assert result['params_exported'] == VANILLA_PARAMS
    assert result['params_vanilla'] == VANILLA_PARAMS
    assert (f'parameters: MixMo {MIXMO_PARAMS:,}, exported '
            f'{VANILLA_PARAMS:,}, vanilla {VANILLA_PARAMS:,}') in printed
    assert 'max abs diff to the MixMo model' in printed
    # Timed forward (fastest of 20 interleaved runs each): the exported
    # model costs what the vanilla network costs. Generous bound: CPU timing
    # on a shared machine; measured 0.8-0.9 (TorchScript) and 1.1-1.2
    # (torch.export's module, with the normalisation inside).
    ratio = result['ms_exported'] / result['ms_vanilla']
    assert 1 / 1.5 <= ratio <= 1.5, result
    assert (f'exported {result["ms_exported"]:.2f} ms, vanilla '
            f'{result["ms_vanilla"]:.2f} ms, ratio {ratio:.3f}') in printed

    # Reload the file and compare with the MixMo model on another batch
    # size than the example's (4).
    model = checkpoint['model']
    raw = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        want = torch.stack(
            [s.pred_score for s in model.test_step(dict(inputs=raw))])
        # TorchScript casts any raw dtype; torch.export fixes float32
        inputs = raw if fmt == 'torchscript' else raw.float()
        if not with_preprocess:
            inputs = model.data_preprocessor(dict(inputs=raw))['inputs']
        exported = tool.load_exported(out, fmt)
        got = exported(inputs)
    assert got.shape == (3, 10)
    assert want.max(1).values.min() > 0.15  # not a uniform prediction
    assert (got - want).abs().max() <= 1e-5
    if fmt == 'torchscript':
        assert isinstance(exported, torch.jit.ScriptModule)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', FutureWarning)
            program = torch.export.load(out)
        assert isinstance(program, torch.export.ExportedProgram)


def test_export_logits_and_default_out(tool, checkpoint, tmp_path):
    ckpt = tmp_path / 'model.pth'
    ckpt.write_bytes(open(checkpoint['path'], 'rb').read())
    result = tool.main([
        CONFIG,
        str(ckpt), '--logits', '--img-size', '24', '--batch-size', '2',
        '--time-repeats', '0'
    ])
    assert result['out'] == str(tmp_path / 'model_folded.pt')
    assert 'ms_exported' not in result and 'ms_vanilla' not in result
    assert result['max_abs_diff'] <= 1e-5
    model = checkpoint['model']
    raw = torch.randint(0, 256, (2, 3, 24, 24)).float()
    with torch.no_grad():
        inputs = model.data_preprocessor(dict(inputs=raw))['inputs']
        logits = torch.stack([
            s.head_logits for s in model(inputs, mode='predict')
        ]).mean(1)
        got = tool.load_exported(result['out'], 'torchscript')(inputs)
    assert (got - logits).abs().max() <= 1e-5


def test_args(tool):
    args = tool.parse_args([CONFIG, 'work/epoch_3.pth'])
    assert args.format == 'torchscript' and args.out == \
        'work/epoch_3_folded.pt'
    assert not args.with_preprocess and not args.logits
    assert args.atol == 1e-5 and args.img_size is None
    assert args.time_repeats == 10
    args = tool.parse_args(
        [CONFIG, 'a.pth', '--format', 'export', '--img-size', '64', '48'])
    assert args.out == 'a_folded.pt2' and args.img_size == [64, 48]
    with pytest.raises(SystemExit):
        tool.parse_args([CONFIG, 'a.pth', '--img-size', '1', '2', '3'])
    with pytest.raises(SystemExit):
        tool.parse_args([CONFIG, 'a.pth', '--format', 'onnx'])
    with pytest.raises(SystemExit):
        tool.parse_args([CONFIG, 'a.pth', '--time-repeats', '-1'])


def test_rejects_a_vanilla_config(tool, checkpoint):
    cfg = Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'quickstart',
                 'vanilla_wrn16-1_1xb64_digits.py'))
    with pytest.raises(TypeError, match="'MixMoClassifier'"):
        tool.build_model(cfg, checkpoint['path'])
