"""Install mmmixmo, a MixMo plugin for MMPretrain.

The ranges below admit the tested set pinned in requirements.txt. mmcv-lite
is required, never the full ``mmcv`` (whose CUDA ops are not needed and whose
build from source takes long): mmpretrain 1.2.0 itself only asks for
``mmcv`` through its optional ``mim`` extra.
"""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version() -> str:
    """Read ``__version__`` from mmmixmo/version.py without importing it."""
    namespace = {}
    with open(osp.join(HERE, 'mmmixmo', 'version.py'), encoding='utf-8') as f:
        exec(compile(f.read(), 'version.py', 'exec'), namespace)
    return namespace['__version__']


def get_long_description() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


setup(
    name='mmmixmo',
    version=get_version(),
    description='MixMo (ICCV 2021) multi-input multi-output mixing for '
    'MMPretrain',
    long_description=get_long_description(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(include=('mmmixmo', 'mmmixmo.*')),
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.0',
        'torchvision>=0.15',
        'numpy',
        'mmengine>=0.8.3,<1.0.0',
        'mmcv-lite>=2.0.0,<2.4.0',
        'mmpretrain>=1.2.0,<2.0.0',
        # mmengine resolves `mmpretrain::` base configs with pkg_resources,
        # which setuptools 81 removed.
        'setuptools<81',
    ],
    # quickstart: the `Digits` data set reads scikit-learn's bundled digits;
    # svhn: `SVHN` reads the official .mat files; onnx: ONNX export and
    # ONNX Runtime inference; timm: timm backbones through mmpretrain's
    # `TIMMBackbone` (the version the tests run)
    extras_require=dict(
        tests=['mapie', 'pytest', 'scikit-learn', 'scipy'],
        quickstart=['scikit-learn'],
        svhn=['scipy'],
        onnx=['onnx', 'onnxruntime', 'onnxscript'],
        timm=['timm==1.0.31']),
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
    zip_safe=False,
)
