# Runtime shared by the mmmixmo configs: mmpretrain's runtime (default scope
# `mmpretrain`, hooks, visualizer, env) plus the import that registers
# mmmixmo's components and applies its compatibility fixes.
_base_ = ['mmpretrain::_base_/default_runtime.py']

custom_imports = dict(imports=['mmmixmo'], allow_failed_imports=False)
