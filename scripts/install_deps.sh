#!/usr/bin/env bash
# Installs the Debian 12 packages the project builds and tests with, only those missing
# (clang-14 and its libFuzzer and sanitizer runtimes: the fuzz targets, scripts/fuzz.sh).
# Idempotent: when everything is installed it returns in well under a second.
set -euo pipefail

PACKAGES=(build-essential cmake ninja-build pkg-config git curl ca-certificates
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev libprotoc-dev protobuf-compiler grpc-proto
  libabsl-dev libspdlog-dev libfmt-dev prometheus-cpp-dev libgtest-dev libgmock-dev
  libbenchmark-dev librocksdb-dev libjemalloc-dev libfasttext-dev libutf8proc-dev libre2-dev libxgboost-dev libhnswlib-dev libssl-dev clang-format clang-14 libfuzzer-14-dev libclang-rt-14-dev python3-grpcio python3-protobuf
  python3-pytest python3-dev python3-venv python3-setuptools python3-wheel prometheus)
# Node.js and npm (the Node client, the manifest check): Debian's, unless a Node.js with its
# own npm is installed already.
command -v npm >/dev/null || PACKAGES+=(nodejs npm)
# Node's headers (node_api.h), for the Node client's native transport: Debian's, unless the
# installed Node.js brought its own.
[ -f /usr/include/node/node_api.h ] || PACKAGES+=(libnode-dev)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
