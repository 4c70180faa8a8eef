"""The optional C extension (pocketmq._speedups); everything else is in pyproject.toml.
If it cannot be compiled, the install goes on and the pure-Python versions are used."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("pocketmq._speedups", ["src/pocketmq/_speedups.c"], optional=True)])
