#!/usr/bin/env bash
# Checks the monitoring material: promtool check config / check rules / test rules, then the
# live test (a split cluster, a real Prometheus with rules.yml, every Grafana panel's query).
# Usage: deploy/prometheus/check.sh [--static]   (--static: promtool only, no live test)
# Env: KG_BUILD_DIR (default build, relative to the repository) for kg_server, kgctl, kg_bench.
# Needs: promtool and prometheus (apt-get install prometheus), /usr/bin/python3.
set -euo pipefail

cd "$(dirname "$0")/../.."
KG_BUILD_DIR=${KG_BUILD_DIR:-build}
static_only=0
case "${1:-}" in
  --static) static_only=1 ;;
  "") ;;
  *) echo "usage: $0 [--static]" >&2; exit 2 ;;
esac

if ! command -v promtool >/dev/null; then
  echo "check.sh: promtool not found: apt-get install -y --no-install-recommends prometheus" >&2
  exit 1
fi

echo "== promtool check config deploy/prometheus/prometheus.yml"
promtool check config deploy/prometheus/prometheus.yml
echo "== promtool check rules deploy/prometheus/rules.yml"
promtool check rules deploy/prometheus/rules.yml
echo "== promtool test rules deploy/prometheus/rules_test.yml"
promtool test rules deploy/prometheus/rules_test.yml

if [[ $static_only == 1 ]]; then
  exit 0
fi
echo "== live test (KG_BUILD_DIR=$KG_BUILD_DIR)"
/usr/bin/python3 deploy/prometheus/live_test.py --build_dir="$KG_BUILD_DIR"
