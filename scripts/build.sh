#!/usr/bin/env bash
# Configures (once) and builds the project into build/ (Release, -j2 by default).
# Usage: scripts/build.sh [cmake --build args...]
#   env: BUILD_DIR (build), BUILD_TYPE (Release), JOBS (2), CMAKE_ARGS (extra -D options)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
BUILD_TYPE=${BUILD_TYPE:-Release}
JOBS=${JOBS:-2}
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="$BUILD_TYPE" ${CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$JOBS" "$@"
