"""Load a script of ``tools/`` as a module, to test its functions."""
import importlib.util
import os.path as osp
from types import ModuleType

TOOLS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools')


def load_tool(relpath: str) -> ModuleType:
    """``tools/<relpath>`` (e.g. ``'deployment/export_mixmo.py'``)."""
    name = 'mmmixmo_tools_' + osp.splitext(relpath)[0].replace('/', '_')
    spec = importlib.util.spec_from_file_location(
        name, osp.join(TOOLS, relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
