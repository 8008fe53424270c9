"""tools/slurm_train.sh and tools/slurm_test.sh, with a fake ``srun``.

Slurm and GPUs are absent here, so no job runs: a fake ``srun`` first on PATH
records its argv and exits. The tests check the exact srun command line, that
the python command line in it is accepted by the real tools' ``parse_args``,
the usage errors, and that srun replaces the script (exec) and so returns its
exit status. What srun and mmengine then do with it (``--launcher=slurm``
needs a GPU per task) is not tested.
"""
import json
import os
import os.path as osp
import shutil
import stat
import subprocess
import sys
from typing import Dict, List, Optional, Tuple

import pytest

from tests.conftest import REPO_ROOT
from tests.utils.tools import load_tool

TOOLS = osp.join(REPO_ROOT, 'tools')
SCRIPTS = {
    'train': osp.join(TOOLS, 'slurm_train.sh'),
    'test': osp.join(TOOLS, 'slurm_test.sh'),
}
# The environment variables that the scripts read.
SCRIPT_ENV = ('GPUS', 'GPUS_PER_NODE', 'CPUS_PER_TASK', 'SRUN_ARGS', 'PYTHON')
FAKE_SRUN = f"""#!{sys.executable}
import json, os, sys
with open(os.environ['FAKE_SRUN_LOG'], 'w') as f:
    json.dump(dict(argv=sys.argv[1:], pid=os.getpid()), f)
sys.exit(int(os.environ.get('FAKE_SRUN_EXIT', '0')))
"""
# What the scripts put before the user's srun options, with the defaults.
DEFAULT_SRUN = [
    '-p', 'gpu', '--job-name=mimo', '--gres=gpu:8', '--ntasks=8',
    '--ntasks-per-node=8', '--cpus-per-task=5', '--kill-on-bad-exit=1'
]


class FakeSrun:
    """Runs a script with the fake srun first on PATH.

    After :meth:`run`, ``script_pid`` and ``srun_pid`` are the process ids
    of the script and of srun (None if srun never ran).
    """

    def __init__(self, tmp_path) -> None:
        self.bin_dir = tmp_path / 'bin'
        self.bin_dir.mkdir()
        srun = self.bin_dir / 'srun'
        srun.write_text(FAKE_SRUN)
        srun.chmod(0o755)
        self.log = tmp_path / 'srun_argv.json'
        self.cwd = tmp_path

    def run(self, script: str, *args: str, **env: str
            ) -> Tuple[subprocess.CompletedProcess, Optional[List[str]]]:
        """The finished process and srun's argv (None if srun never ran)."""
        full_env: Dict[str, str] = {
            key: value
            for key, value in os.environ.items() if key not in SCRIPT_ENV
        }
        full_env.update(env,
                        PATH=f'{self.bin_dir}{os.pathsep}{os.environ["PATH"]}',
                        FAKE_SRUN_LOG=str(self.log))
        if self.log.exists():
            self.log.unlink()
        with subprocess.Popen([script, *args],
                              cwd=self.cwd,
                              env=full_env,
                              stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE,
                              text=True) as popen:
            stdout, stderr = popen.communicate(timeout=30)
        self.script_pid = popen.pid
        record = (json.loads(self.log.read_text())
                  if self.log.exists() else dict(argv=None, pid=None))
        self.srun_pid = record['pid']
        proc = subprocess.CompletedProcess(popen.args, popen.returncode,
                                           stdout, stderr)
        return proc, record['argv']


@pytest.fixture
def srun(tmp_path) -> FakeSrun:
    return FakeSrun(tmp_path)


def _load_tool(name: str):
    return load_tool(f'{name}.py')


@pytest.fixture(autouse=True)
def restore_local_rank(monkeypatch):
    # parse_args sets LOCAL_RANK like mmpretrain's tools; undo it afterwards.
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.delenv('LOCAL_RANK')


def _python_args(argv: List[str], tool: str) -> List[str]:
    """The arguments after the tool's path in srun's argv."""
    return argv[argv.index(osp.join(TOOLS, f'{tool}.py')) + 1:]


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_scripts_parse_and_are_executable(tool):
    script = SCRIPTS[tool]
    subprocess.run(['bash', '-n', script], check=True, timeout=30)
    # Executable like dist_*.sh (git keeps only this bit).
    assert os.stat(script).st_mode & stat.S_IXUSR


def test_train_defaults(srun):
    proc, argv = srun.run(SCRIPTS['train'], 'gpu', 'mimo', 'cfg.py', 'work')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == proc.stderr == ''
    assert argv == DEFAULT_SRUN + [
        'python', '-u',
        osp.join(TOOLS, 'train.py'), 'cfg.py', '--work-dir=work',
        '--launcher=slurm'
    ]


def test_test_defaults(srun):
    proc, argv = srun.run(SCRIPTS['test'], 'gpu', 'mimo', 'cfg.py',
                          'epoch_150.pth')
    assert proc.returncode == 0, proc.stderr
    assert argv == DEFAULT_SRUN + [
        'python', '-u',
        osp.join(TOOLS, 'test.py'), 'cfg.py', 'epoch_150.pth',
        '--launcher=slurm'
    ]


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_custom_environment(srun, tool):
    proc, argv = srun.run(SCRIPTS[tool],
                          'big',
                          'mixmo',
                          'cfg.py',
                          'work',
                          GPUS='16',
                          GPUS_PER_NODE='8',
                          CPUS_PER_TASK='4',
                          SRUN_ARGS='--time=1:00:00 --qos=high',
                          PYTHON='/opt/py/bin/python3')
    assert proc.returncode == 0, proc.stderr
    tool_args = (['cfg.py', '--work-dir=work']
                 if tool == 'train' else ['cfg.py', 'work'])
    assert argv == [
        '-p', 'big', '--job-name=mixmo', '--gres=gpu:8', '--ntasks=16',
        '--ntasks-per-node=8', '--cpus-per-task=4', '--kill-on-bad-exit=1',
        '--time=1:00:00', '--qos=high', '/opt/py/bin/python3', '-u',
        osp.join(TOOLS, f'{tool}.py'), *tool_args, '--launcher=slurm'
    ]


def test_srun_args_are_split_but_not_globbed(srun):
    # A file that `--comment=*` would match if the shell expanded it.
    (srun.cwd / '--comment=oops').write_text('')
    _, argv = srun.run(SCRIPTS['train'],
                       'gpu',
                       'mimo',
                       'cfg.py',
                       'work',
                       SRUN_ARGS=' --exclude=node[1-3]\t--comment=*\n--mem=0 ')
    assert argv[len(DEFAULT_SRUN):argv.index('python')] == [
        '--exclude=node[1-3]', '--comment=*', '--mem=0'
    ]


def test_train_options_reach_train_py(srun):
    """Every argument, with spaces, is one argument of tools/train.py."""
    config = '/configs dir/mimo resnet50.py'
    work_dir = '/work dirs/mimo run'
    options = [
        '--cfg-options', 'a=1', 'b=2', 'c=[1, 2]', '--resume',
        '/ckpts/my run/epoch_3.pth', '--amp'
    ]
    _, argv = srun.run(SCRIPTS['train'], 'gpu', 'mimo', config, work_dir,
                       *options)
    python_args = _python_args(argv, 'train')
    assert argv == DEFAULT_SRUN + [
        'python', '-u',
        osp.join(TOOLS, 'train.py'), config, f'--work-dir={work_dir}',
        '--launcher=slurm', *options
    ]
    args = _load_tool('train').parse_args(python_args)
    assert args.launcher == 'slurm'
    assert args.config == config and args.work_dir == work_dir
    assert args.cfg_options == {'a': 1, 'b': 2, 'c': [1, 2]}
    assert args.resume == '/ckpts/my run/epoch_3.pth' and args.amp


def test_test_options_reach_test_py(srun):
    """Every argument, with spaces, is one argument of tools/test.py."""
    config = '/configs dir/mimo resnet50.py'
    checkpoint = '/ckpts/my run/epoch 150.pth'
    options = [
        '--work-dir', '/eval dir', '--out', '/eval dir/preds.pkl',
        '--cfg-options', 'a=1', 'b=2', '--tta'
    ]
    _, argv = srun.run(SCRIPTS['test'], 'gpu', 'mimo', config, checkpoint,
                       *options)
    python_args = _python_args(argv, 'test')
    assert argv == DEFAULT_SRUN + [
        'python', '-u',
        osp.join(TOOLS, 'test.py'), config, checkpoint, '--launcher=slurm',
        *options
    ]
    args = _load_tool('test').parse_args(python_args)
    assert args.launcher == 'slurm'
    assert args.config == config and args.checkpoint == checkpoint
    assert args.work_dir == '/eval dir'
    assert args.out == '/eval dir/preds.pkl'
    assert args.cfg_options == {'a': 1, 'b': 2} and args.tta


def test_tool_path_follows_the_script(srun):
    """The tools are next to the script, even in a folder with a space."""
    folder = srun.cwd / 'my tools'
    folder.mkdir()
    script = shutil.copy(SCRIPTS['test'], folder)
    _, argv = srun.run(script, 'gpu', 'mimo', 'cfg.py', 'ckpt.pth')
    assert str(folder / 'test.py') in argv
    # A relative path, as in `bash tools/slurm_train.sh ...` from the repo.
    _, argv = srun.run(osp.join('my tools', 'slurm_test.sh'), 'gpu', 'mimo',
                       'cfg.py', 'ckpt.pth')
    assert osp.join('my tools', 'test.py') in argv


@pytest.mark.parametrize('tool, last', [('train', 'WORK_DIR'),
                                        ('test', 'CHECKPOINT')])
@pytest.mark.parametrize('num_args', [0, 1, 3])
def test_usage_error(srun, tool, last, num_args):
    names = ['PARTITION', 'JOB_NAME', 'CONFIG', last]
    proc, argv = srun.run(SCRIPTS[tool], *['x'] * num_args)
    assert proc.returncode == 2 and argv is None
    assert proc.stdout == ''
    assert proc.stderr == (
        f'usage: {SCRIPTS[tool]} {" ".join(names)} [{tool}.py options]: '
        f'missing {" ".join(names[num_args:])}\n')


@pytest.mark.parametrize('tool', ['train', 'test'])
def test_srun_replaces_the_script(srun, tool):
    """srun is exec'd (Slurm's signals reach it), its exit status returned."""
    proc, argv = srun.run(SCRIPTS[tool],
                          'gpu',
                          'mimo',
                          'cfg.py',
                          'x',
                          FAKE_SRUN_EXIT='3')
    assert proc.returncode == 3 and argv is not None
    assert srun.srun_pid == srun.script_pid
