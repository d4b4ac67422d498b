"""Adds the generated stubs (package kgclient_proto) to the build: they are made from the
repository's proto/ at build time by gen_stubs.py, never checked in; and the native
transport (module kgclient_native, native/kgclient_native.cc, with the C++ classes of the
same .proto files that protoc generates here) when a C++ compiler, the Python headers,
grpc++ and protobuf (pkg-config) are there: it is optional, the package works without it.
The metadata is in pyproject.toml."""
import os
import shlex
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_stubs  # noqa: E402


class BuildWithStubs(build_py):
    def run(self):
        super().run()
        target = gen_stubs.generate(self.build_lib)
        print(f"generated {target}")


class BuildWithMessages(build_ext):
    """Generates the C++ classes of proto/kg/v1 (protoc --cpp_out) into the build's temporary
    directory and compiles them into kgclient_native. When protoc fails, the native module
    is not built (it is optional)."""

    def run(self):
        out = os.path.join(os.path.abspath(self.build_temp), "kg_messages")
        try:
            sources = gen_stubs.generate_cpp(out)
        except (OSError, subprocess.CalledProcessError, SystemExit) as e:
            print(f"kgclient_native skipped: the C++ messages were not generated ({e})")
            self.extensions = []
        else:
            for ext in self.extensions:
                ext.sources = ext.sources + sources
                ext.include_dirs = ext.include_dirs + [out]
        super().run()


def grpc_flags(option: str):
    try:
        out = subprocess.run(["pkg-config", option, "grpc++", "protobuf"], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return shlex.split(out)


HERE = os.path.dirname(os.path.abspath(__file__))
native = Extension(
    "kgclient_native", sources=["native/kgclient_native.cc"], language="c++",
    include_dirs=[os.path.join(HERE, "..", "native")],  # byte_calls.h, shared with Node.js
    extra_compile_args=["-std=c++17", "-O2", "-fvisibility=hidden", *grpc_flags("--cflags")],
    extra_link_args=grpc_flags("--libs"), optional=True)

setup(cmdclass={"build_py": BuildWithStubs, "build_ext": BuildWithMessages},
      ext_modules=[native])
