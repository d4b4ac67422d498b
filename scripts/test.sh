#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (unit, then integration).
# Exits non-zero when anything fails. Re-running is incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh
BUILD_DIR=${BUILD_DIR:-build}
# Unit tests in parallel; integration tests start server processes, so one at a time.
ctest --test-dir "$BUILD_DIR" --output-on-failure -j 2 -LE integration
ctest --test-dir "$BUILD_DIR" --output-on-failure -L integration
# Every fuzz target 5 s on its seed corpus, in its own clang build directory (build-fuzz).
scripts/fuzz.sh --short
# The Node.js client against live servers in both modes, through both transports (the
# native one built by CMake); the Python client's tests are in ctest: python_client.
KG_SERVER="$BUILD_DIR/server/app/kg_server" KG_NODE_NATIVE="$BUILD_DIR/client/node/kgclient_native.node" \
  KG_EXPECT_NATIVE=1 client/node/test.sh
# Monitoring: promtool checks and rule unit tests, then the dashboard and rules against a
# live split cluster scraped by a real Prometheus.
KG_BUILD_DIR="$BUILD_DIR" deploy/prometheus/check.sh
# Kubernetes manifests: rendered and validated offline against the API schemas.
BUILD_DIR="$BUILD_DIR" deploy/k8s/check.sh
# The container image, built for real with buildah (about 11 minutes): only when asked.
if [ "${KG_IMAGE_CHECK:-0}" = 1 ]; then deploy/image/check.sh; fi
