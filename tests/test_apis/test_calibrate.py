"""tools/calibrate.py and mmmixmo.apis.calibrate: the fit, the written config
and checkpoint, and the refusals of a calibration that is not the model's."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.runner import CheckpointLoader
from mmpretrain.registry import MODELS

from mmmixmo.apis import UncertaintyInferencer, fit_calibration
from mmmixmo.apis.calibrate import calibrated_config, collect_logits
from mmmixmo.evaluation.functional import fit_temperature
from mmmixmo.utils import CheckpointMismatchError, load_checkpoint_checked
from tests.test_apis.test_uncertainty_inferencer import make_tiny_model
from tests.utils.tools import load_tool


@pytest.fixture(scope='module')
def tool():
    return load_tool('calibrate.py')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('calibrate'))
    return dict(root=root, mixmo=make_tiny_model(root),
                vanilla=make_tiny_model(root, mixmo=False))


def test_fit_calibration_by_hand():
    gen = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(200, 5, generator=gen, dtype=torch.float64)
    labels = torch.randint(0, 5, (200, ), generator=gen)
    cal = fit_calibration(logits, labels, conformal='lac', alpha=0.1)
    temp = fit_temperature(logits, labels)
    assert cal['temperature'] == temp
    # LAC: the ceil(201 * 0.9) = 181st smallest 1 - p_y
    probs = F.softmax(logits / temp, dim=1)
    label_scores = 1 - probs[torch.arange(200), labels]
    want = float(label_scores.sort().values[180])
    assert cal['conformal'] == dict(score='lac', alpha=0.1, threshold=want,
                                    k_reg=0, lam=0.0, num_samples=200)
    # RAPS keeps its parameters; no temperature: T = 1
    cal = fit_calibration(logits, labels, temperature=False,
                          conformal='raps', alpha=0.2, k_reg=2, lam=0.5)
    assert cal['temperature'] == 1.0
    assert (cal['conformal']['k_reg'], cal['conformal']['lam']) == (2, 0.5)
    with pytest.raises(ValueError, match='at least 19 calibration samples'):
        fit_calibration(logits[:10], labels[:10], conformal='aps',
                        alpha=0.05)


def test_calibrated_config_types(tiny):
    cal = dict(temperature=2.0, conformal=None)
    cfg = Config.fromfile(tiny['vanilla']['config'])
    assert cfg.model.type == 'VanillaClassifier'
    cfg.model.type = 'ImageClassifier'  # mmpretrain's
    assert calibrated_config(cfg, cal).model.type == 'VanillaClassifier'
    assert cfg.model.type == 'ImageClassifier'  # a copy
    cfg.model.type = 'mmpretrain.ImageClassifier'
    assert calibrated_config(cfg, cal).model.type == 'VanillaClassifier'
    cfg = Config.fromfile(tiny['mixmo']['config'])
    assert calibrated_config(cfg, cal).model.calibration == cal
    cfg.model = dict(type='HuggingFaceClassifier', model_name='x')
    with pytest.raises(ValueError, match="model.type='HuggingFaceClassifier'"
                       ' takes no calibration'):
        calibrated_config(cfg, cal)


@pytest.mark.parametrize('name', ['mixmo', 'vanilla'])
def test_tool_writes_a_calibrated_model(tool, tiny, name, capsys):
    """The written config and checkpoint predict softmax(z / T) with the
    sets of the fitted threshold; the metrics report T and no NLL_c."""
    model = tiny[name]
    out = f'{tiny["root"]}/{name}_calibrated'
    result = tool.main([model['config'], model['checkpoint'], '--out', out,
                        '--conformal', 'aps', '--alpha', '0.1'])
    printed = capsys.readouterr().out
    cal = result['calibration']
    assert f'temperature {cal["temperature"]:.4f}' in printed
    assert 'aps sets at alpha 0.1' in printed
    assert cal['conformal']['num_samples'] == 300  # the digits' test split
    # in-sample coverage >= 1 - alpha, by the threshold's rank
    assert result['figures']['coverage'] >= 0.9
    assert result['figures']['nll_calibrated'] <= result['figures']['nll']
    ckpt = CheckpointLoader.load_checkpoint(out + '.pth', 'cpu')
    assert ckpt['meta']['calibration'] == cal
    cfg = Config.fromfile(out + '.py')
    assert cfg.model.calibration == cal
    assert cfg.test_evaluator[-1] == dict(type='ConformalMetric')
    # its predictions: the uncalibrated logits / T
    logits, labels, _ = collect_logits(Config.fromfile(model['config']),
                                       model['checkpoint'])
    got_logits, got_labels, _ = collect_logits(cfg, out + '.pth')
    assert torch.equal(got_labels, labels)
    # collect_logits reads the raw logits of the calibrated model too
    torch.testing.assert_close(got_logits, logits, rtol=0, atol=1e-6)
    inferencer = UncertaintyInferencer(out + '.py', device='cpu')
    calibrated = MODELS.build(cfg.model)
    load_checkpoint_checked(calibrated, out + '.pth', out + '.py')
    samples = calibrated.eval().test_step(dict(inputs=torch.randint(
        0, 256, (4, 3, 32, 32)).float()))
    probs = torch.stack([s.pred_score for s in samples])
    raw = torch.stack([s.ensemble_logits for s in samples]) * \
        cal['temperature']
    torch.testing.assert_close(probs.double(), F.softmax(
        raw / cal['temperature'], 1), rtol=0, atol=1e-6)
    assert all(s.temperature == cal['temperature'] for s in samples)
    assert inferencer.model.calibration.to_dict() == cal


def test_refusals(tool, tiny, capsys):
    model = tiny['mixmo']
    out = f'{tiny["root"]}/refusals_calibrated'
    tool.main([model['config'], model['checkpoint'], '--out', out])
    # the calibrated checkpoint with the training config
    uncalibrated = MODELS.build(Config.fromfile(model['config']).model)
    with pytest.raises(CheckpointMismatchError,
                       match=r'calibrated by tools/calibrate.py .* use the '
                       'config written with the checkpoint'):
        load_checkpoint_checked(uncalibrated, out + '.pth', model['config'])
    test_tool = load_tool('test.py')
    with pytest.raises(CheckpointMismatchError, match='calibrated'):
        test_tool.main([model['config'], out + '.pth', '--work-dir',
                        f'{tiny["root"]}/work'])
    for argv, message in (
            (['--alpha', '1.5', '--conformal', 'lac'], '--alpha must be in'),
            (['--no-temperature'], 'calibrates nothing'),
    ):
        with pytest.raises(SystemExit):
            tool.main([model['config'], model['checkpoint'], *argv])
        assert message in capsys.readouterr().err


def test_test_tool_reports_the_calibrated_model(tiny, tool):
    """tools/test.py on the written files: the CalibrationMetric's NLL is
    the calibrated one, its temperature the model's, and no NLL_c."""
    model = tiny['vanilla']
    out = f'{tiny["root"]}/test_tool_calibrated'
    cal = tool.main([model['config'], model['checkpoint'], '--out',
                     out])['calibration']
    metrics = load_tool('test.py').main(
        [out + '.py', out + '.pth', '--work-dir', f'{tiny["root"]}/work2'])
    assert metrics['calibration/temperature'] == cal['temperature']
    assert 'calibration/nll_c' not in metrics
    logits, labels, _ = collect_logits(Config.fromfile(model['config']),
                                       model['checkpoint'])
    want = F.cross_entropy(logits / cal['temperature'], labels).item()
    assert math.isclose(metrics['calibration/nll'], want, abs_tol=1e-6)


def test_a_diverged_checkpoint_is_refused(tiny, tool, capsys):
    model = tiny['mixmo']
    checkpoint = torch.load(model['checkpoint'], map_location='cpu',
                            weights_only=False)
    head = next(k for k in checkpoint['state_dict'] if k.endswith('weight')
                and 'head' in k)
    checkpoint['state_dict'][head].view(-1)[0] = float('nan')
    path = f'{tiny["root"]}/diverged.pth'
    torch.save(checkpoint, path)
    with pytest.raises(ValueError,
                       match=r"checkpoint '.*diverged.pth' predicts NaN or "
                       r'inf logits on \d+ of the \d+ images of '
                       'val_dataloader'):
        tool.main([model['config'], path, '--out',
                   f'{tiny["root"]}/diverged_calibrated'])
