"""Adds the generated stubs (package kgclient_proto) to the build: they are made from the
repository's proto/ at build time by gen_stubs.py, never checked in. The metadata is in
pyproject.toml."""
import os
import sys

from setuptools import setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_stubs  # noqa: E402


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        target = gen_stubs.generate(self.build_lib)
        print(f"generated {target}")


setup(cmdclass={"build_py": BuildWithStubs})
