#!/usr/bin/env bash
# Installs the package with pip into a new venv (using the system's grpcio and protobuf,
# offline) and checks that the stubs were generated into it (the package's own build runs
# gen_stubs.py) and, where grpc++ and the Python headers are installed (python3-dev,
# libgrpc++-dev: scripts/install_deps.sh), that the native transport was built into it too,
# with the generated C++ messages the stubs then use.
# Usage: check_install.sh WORK_DIR
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=${1:?usage: check_install.sh WORK_DIR}
rm -rf "$work"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
# pip builds in place: build a copy, so the source tree gets no build/ or egg-info.
mkdir -p "$work/src/client"
cp -r "$here" "$work/src/client/python"
ln -s "$here/../../proto" "$work/src/proto"
ln -s "$here/../native" "$work/src/client/native"
"$work/venv/bin/python" -m pip install --quiet --no-build-isolation --no-deps --no-index \
  "$work/src/client/python"
cd "$work"
"$work/venv/bin/python" - <<'PY'
import kgclient, kgclient_proto.kg.v1.graph_pb2_grpc as g
assert "site-packages" in kgclient.__file__ and "site-packages" in g.__file__, (kgclient.__file__, g.__file__)
assert hasattr(g, "GraphServiceStub")
from kgclient import KgClient
import kgclient_native
assert "site-packages" in kgclient_native.__file__, kgclient_native.__file__
assert KgClient("127.0.0.1:1").native
# Built with the stubs, the native module carries their C++ classes (used by Debian's
# python3-protobuf, the C++ implementation).
import kgclient_proto
from google.protobuf.internal import api_implementation
assert kgclient_proto.GENERATED_CPP or api_implementation.Type() != "cpp"
print("installed:", kgclient.__file__, kgclient_native.__file__)
PY
