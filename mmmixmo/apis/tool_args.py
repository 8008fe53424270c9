"""Command-line arguments that several scripts of ``tools/`` share."""
import argparse
from typing import Optional

from mmengine.config import DictAction

LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_cfg_options(
        parser: argparse.ArgumentParser,
        help: str = 'override config keys, e.g. model.head.r=2') -> None:
    """``--cfg-options KEY=VALUE ...``, merged into the config."""
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help=help)


def add_device(parser: argparse.ArgumentParser) -> None:
    """``--device`` of the PyTorch model, ``cpu`` by default."""
    parser.add_argument('--device', default='cpu',
                        help='PyTorch device, e.g. cuda:0 (default: cpu)')


def runner_parser(description: str,
                  checkpoint: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of ``tools/train.py`` and ``tools/test.py`` with the
    arguments they share: ``config`` (and ``checkpoint`` with its help),
    ``--work-dir``, ``--amp``, ``--no-pin-memory``, ``--cfg-options``,
    ``--launcher`` and ``--local-rank``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('config', help='config file')
    if checkpoint is not None:
        parser.add_argument('checkpoint', help=checkpoint)
    parser.add_argument(
        '--work-dir', help='default: the config\'s, else ./work_dirs/CONFIG')
    parser.add_argument('--amp', action='store_true', help='mixed precision')
    parser.add_argument('--no-pin-memory', action='store_true')
    add_cfg_options(parser, 'override config keys, e.g. randomness.seed=1')
    parser.add_argument('--launcher', default='none', choices=LAUNCHERS)
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser
