"""Test suite of mmmixmo.

This file makes ``tests`` a regular package so that ``import tests.utils``
finds this folder: the ``model-index`` package (a dependency of mmpretrain)
installs an unrelated top-level ``tests`` package into site-packages, which
would win over a namespace package.
"""
