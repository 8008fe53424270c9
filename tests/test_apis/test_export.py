"""mmmixmo.apis.export_model on a model in memory (no checkpoint file)."""
import os.path as osp

import pytest
import torch

from mmmixmo.apis import export_model
from mmmixmo.utils import build_model, load_config
from tests.conftest import REPO_ROOT
from tests.utils.models import randomize_weights

CONFIG = osp.join(REPO_ROOT, 'tests', 'data', 'configs', 'tiny_cifar10.py')


def test_export_model_in_memory(tmp_path):
    cfg = load_config(CONFIG)
    torch.manual_seed(0)
    model = build_model(cfg, 'the test').eval()
    randomize_weights(model, linear_std=0.5)
    out = str(tmp_path / 'sub' / 'heads.pt')
    result = export_model(cfg, model, out, heads=True, with_preprocess=True,
                          img_size=24, batch_size=2)
    assert result['out'] == out and result['files'] == [out]
    assert result['img_size'] == (24, 24) and result['max_abs_diff'] <= 1e-5
    assert result['params_folded'] < result['params_mixmo']
    raw = torch.randint(0, 256, (3, 3, 24, 24)).float()
    with torch.no_grad():
        samples = model.test_step(dict(inputs=raw))
        scores, heads = result['module'](raw)  # reloaded TorchScript
    assert (scores - torch.stack([s.pred_score for s in samples])
            ).abs().max() <= 1e-5
    assert (heads - torch.stack([s.member_logits for s in samples])
            ).abs().max() <= 1e-5
    root = str(tmp_path / 'folded')
    result = export_model(cfg, model, root, 'mmpretrain')
    assert result['files'] == [root + '.py', root + '.pth']
    assert all(osp.isfile(path) for path in result['files'])


def test_export_model_refuses_options_that_do_not_go_together(tmp_path):
    cfg = load_config(CONFIG)
    model = build_model(cfg)
    for fmt, kwargs in (('mmpretrain', dict(logits=True)),
                        ('onnx', dict(logits=True))):
        with pytest.raises(ValueError, match='--logits'):
            export_model(cfg, model, str(tmp_path / 'x'), fmt, **kwargs)
    cfg.model.head.average = 'probs'
    with pytest.raises(ValueError, match="average='probs'.*--heads"):
        export_model(cfg, build_model(cfg), str(tmp_path / 'probs.pt'))
