"""Adds the generated stubs (package kgclient_proto) to the build: they are made from the
repository's proto/ at build time by gen_stubs.py, never checked in; and the native
transport (module kgclient_native, native/kgclient_native.cc) when a C++ compiler, the
Python headers and grpc++ (pkg-config) are there: it is optional, the package works
without it. The metadata is in pyproject.toml."""
import os
import shlex
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_stubs  # noqa: E402


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        target = gen_stubs.generate(self.build_lib)
        print(f"generated {target}")


def grpc_flags(option: str):
    try:
        out = subprocess.run(["pkg-config", option, "grpc++"], capture_output=True, text=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return shlex.split(out)


HERE = os.path.dirname(os.path.abspath(__file__))
native = Extension(
    "kgclient_native", sources=["native/kgclient_native.cc"], language="c++",
    include_dirs=[os.path.join(HERE, "..", "native")],  # byte_calls.h, shared with Node.js
    extra_compile_args=["-std=c++17", "-O2", *grpc_flags("--cflags")],
    extra_link_args=grpc_flags("--libs"), optional=True)

setup(cmdclass={"build_py": BuildWithStubs}, ext_modules=[native])
