"""The optional C extensions (pocketmq._speedups, pocketmq.remoting._socket_writer); everything
else is in pyproject.toml. If one cannot be compiled, the install goes on and the pure-Python
code is used instead."""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("pocketmq._speedups", ["src/pocketmq/_speedups.c"], optional=True),
    Extension("pocketmq.remoting._socket_writer", ["src/pocketmq/remoting/_socket_writer.c"], optional=True),
])
