#!/usr/bin/env bash
# Offline check of the Kubernetes manifests (deploy/k8s/README.md, "The check"): renders
# base/ and every overlays/*, validates each object against its Kubernetes API schema and
# runs the cross-checks, then the check's own tests (broken manifests must be caught).
# Installs the check's npm packages from package-lock.json first when they are missing or
# older than the lock file (from npm's cache when it has them). Arguments go to check.js
# (e.g. --kg-server=PATH; by default build/server/app/kg_server, or $BUILD_DIR's).
set -euo pipefail
cd "$(dirname "$0")/check"
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "deploy/k8s/check.sh: $tool not found (Node.js 18 or later, with npm)" >&2
    exit 1
  fi
done
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --offline --no-audit --no-fund --loglevel=error 2>/dev/null \
    || npm ci --no-audit --no-fund --loglevel=error
fi
node check.js "$@"
node --test test/*.test.js
