"""Packaging: README commands, .ci/run, requirements.txt and setup.py.

CI must run exactly the install and test commands that README.md shows, and
the dependency ranges of setup.py must admit the pinned tested set.
"""
import importlib.metadata
import os.path as osp
import re

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT

TESTED_SET = {
    'torch': '2.14.1',
    'torchvision': '0.29.1',
    'mmengine': '0.10.7',
    'mmcv-lite': '2.2.0',
    'mmpretrain': '1.2.0',
}


def _readme_command(section: str) -> str:
    """The single command of the first shell block under `## <section>`."""
    with open(osp.join(REPO_ROOT, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    match = re.search(
        rf'^## {re.escape(section)}\n(.*?)^```shell\n(.*?)^```', readme,
        re.MULTILINE | re.DOTALL)
    assert match, f'README.md has no shell block under "## {section}"'
    lines = match.group(2).strip().splitlines()
    assert len(lines) == 1, f'"## {section}" must show one command'
    return lines[0]


def _ci_lines():
    with open(osp.join(REPO_ROOT, '.ci', 'run'), encoding='utf-8') as f:
        return [line.strip() for line in f]


def test_ci_runs_the_readme_install_command():
    command = _readme_command('Install')
    assert command == 'pip install -r requirements.txt -e .'
    assert command in _ci_lines()


def test_ci_runs_the_readme_test_command_and_fails_on_no_tests():
    command = _readme_command('Test')
    lines = _ci_lines()
    assert f'{command} || status=$?' in lines
    # pytest exits 5 when it collected no test: CI must fail then.
    assert 'if [ "$status" -eq 5 ]; then' in lines
    assert 'exit "$status"' in lines
    # In a fresh virtual environment, installed before the tests run.
    venv = lines.index('python3 -m venv --clear "$VENV_DIR"')
    assert venv < lines.index(_readme_command('Install')) < lines.index(
        f'{command} || status=$?')


def test_requirements_pin_the_tested_set():
    with open(osp.join(REPO_ROOT, 'requirements.txt')) as f:
        reqs = {
            line.strip()
            for line in f if line.strip() and not line.startswith('#')
        }
    assert reqs == {f'{name}=={version}'
                    for name, version in TESTED_SET.items()
                    } | {'setuptools<81', 'pytest', 'scikit-learn==1.9.1',
                         'scipy==1.17.1', 'onnx==1.23.2',
                         'onnxruntime==1.32.0', 'onnxscript==0.7.2',
                         'timm==1.0.31', 'mapie==1.6.0'}


def test_setup_requires_ranges_admitting_the_tested_set():
    try:
        requires = importlib.metadata.requires('mmmixmo')
    except importlib.metadata.PackageNotFoundError:
        pytest.skip('mmmixmo is not installed (pip install -e .)')
    reqs = {
        req.name: req
        for req in map(Requirement, requires) if req.marker is None
    }
    assert 'mmcv' not in reqs  # mmcv-lite only, never the full mmcv
    assert set(TESTED_SET) | {'setuptools'} <= set(reqs)
    for name, version in TESTED_SET.items():
        assert reqs[name].specifier.contains(version), reqs[name]
    assert reqs['setuptools'].specifier.contains('80.10.2')
    assert not reqs['setuptools'].specifier.contains('81.0.0')
    # Ranges, not pins: the next patch releases are admitted too.
    assert reqs['mmengine'].specifier.contains('0.10.8')
    assert reqs['torch'].specifier.contains('2.14.2')
