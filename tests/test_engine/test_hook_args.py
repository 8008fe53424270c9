import os.path as osp

import pytest
from mmengine.config import Config

from mmmixmo.engine import check_hook_args
from tests.conftest import REPO_ROOT

QUICKSTART = osp.join(REPO_ROOT, 'configs', 'quickstart',
                      'cut-mixmo_wrn16-1_1xb64-b2_digits.py')


def _config(**options) -> Config:
    cfg = Config.fromfile(QUICKSTART)
    cfg.merge_from_dict(options)
    return cfg


def test_the_configs_hooks_pass():
    for config in (QUICKSTART,
                   osp.join(REPO_ROOT, 'configs', 'mixmo',
                            'cut-mixmo_resnet50_8xb64-b2_in1k.py')):
        check_hook_args(Config.fromfile(config))
    # priority (taken by the runner), a disabled hook, kwargs forwarded to
    # a model (EMAHook)
    check_hook_args(_config(
        default_hooks=dict(logger=dict(priority='LOW'), visualization=None),
        custom_hooks=[dict(type='EMAHook', momentum=1e-4)]))


@pytest.mark.parametrize('options, message', [
    (dict(default_hooks=dict(checkpoint=dict(intervall=1))),
     "default_hooks.checkpoint.intervall: CheckpointHook takes no argument "
     "'intervall' (did you mean 'interval'?); it takes interval, by_epoch,"),
    (dict(default_hooks=dict(logger=dict(interva=5))),
     "default_hooks.logger.interva: LoggerHook takes no argument 'interva' "
     "(did you mean 'interval'?); it takes interval, ignore_last,"),
    (dict(custom_hooks=[dict(type='MixingProbHook', decay_fractoin=0.1)]),
     "custom_hooks[0].decay_fractoin: MixingProbHook takes no argument "
     "'decay_fractoin' (did you mean 'decay_fraction'?); it takes "
     'decay_fraction'),
    (dict(custom_hooks=[dict(type='MixingProbHook', xyz=1)]),
     "custom_hooks[0].xyz: MixingProbHook takes no argument 'xyz'; it takes "
     'decay_fraction'),
    (dict(custom_hooks=[dict(type='MixingProbHooks')]),
     "custom_hooks[0].type='MixingProbHooks' is not a registered hook"),
])
def test_a_typo_names_its_key(options, message):
    with pytest.raises(ValueError) as error:
        check_hook_args(_config(**options))
    assert str(error.value).startswith(message)


def test_hooks_of_custom_imports_given_as_options_are_known(
        tmp_path, monkeypatch):
    # --cfg-options custom_imports.imports=[...] is merged after the file's
    # own imports ran: the check imports them
    (tmp_path / 'hook_args_probe.py').write_text(
        'from mmengine.hooks import Hook\n'
        'from mmpretrain.registry import HOOKS\n\n\n'
        '@HOOKS.register_module()\n'
        'class HookArgsProbeHook(Hook):\n\n'
        '    def __init__(self, out_dir):\n'
        '        self.out_dir = out_dir\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = _config(
        custom_imports=dict(
            imports=['mmmixmo', 'hook_args_probe'],
            allow_failed_imports=False),
        custom_hooks=[dict(type='HookArgsProbeHook', out_dir='x')])
    check_hook_args(cfg)
    cfg.custom_hooks[0].out_dri = 'x'
    with pytest.raises(ValueError, match=r"^custom_hooks\[0\]\.out_dri: "
                       "HookArgsProbeHook takes no argument 'out_dri'"):
        check_hook_args(cfg)
