"""Legacy entry point: everything about the package is in pyproject.toml (`pip install .`)."""

from setuptools import setup

setup()
