"""Helpers shared by the tests (fake data sets, subprocess runners)."""
from .fake_cifar import make_fake_cifar10, make_fake_cifar100

__all__ = ['make_fake_cifar10', 'make_fake_cifar100']
