#!/usr/bin/env bash
# Installs the Node.js client's packages when missing or older than package-lock.json (from
# npm's cache when it has them, else from the registry) and runs its tests with node's test
# runner. The tests start kg_server themselves: build/server/app/kg_server of this checkout
# (scripts/build.sh builds it), or the binary named by KG_SERVER. KG_NODE_NATIVE names the
# native transport (default: build/client/node/kgclient_native.node of this checkout, when
# built); KG_EXPECT_NATIVE=1 fails the tests when it is not there.
set -euo pipefail
if [ -n "${KG_SERVER:-}" ]; then
  KG_SERVER=$(realpath -- "$KG_SERVER")
  export KG_SERVER
fi
if [ -n "${KG_NODE_NATIVE:-}" ]; then
  KG_NODE_NATIVE=$(realpath -- "$KG_NODE_NATIVE")
  export KG_NODE_NATIVE
fi
cd "$(dirname "$0")"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --offline --no-audit --no-fund || npm ci --no-audit --no-fund
fi
exec node --test test/*.test.js
