#!/bin/bash
# cpu_per_item.sh: a server's CPU time per item under kg_bench loads, for comparing server
# binaries on the same data (docs/PERFORMANCE.md, "the same outputs for less CPU").
#
#   bench/cpu_per_item.sh --data_dir=DIR --titles_file=FILE [--rounds=3] [--rpc=Categorize]
#                         [--port=50790] BINARY...
#
# For each round and each BINARY in turn: starts `BINARY --port=PORT --metrics_port=-1
# --partition_count=4 --data_dir=DIR` (a persisted graph and model bundle, so every binary
# serves the same models), waits for SERVING, then runs two 5 s kg_bench loads of RPC:
# 100 titles per call with 1 in flight, and 1 title per call with 32 in flight. It prints
# items/s and the server's user+system CPU (from /proc/PID/stat) per item for each, then
# stops the server. Alternating the binaries spreads the machine's drift over all of them.
set -euo pipefail
ROUNDS=3 RPC=Categorize PORT=50790 DATA_DIR="" TITLES=""
BINARIES=()
for arg in "$@"; do
  case "$arg" in
    --rounds=*) ROUNDS=${arg#*=} ;;
    --rpc=*) RPC=${arg#*=} ;;
    --port=*) PORT=${arg#*=} ;;
    --data_dir=*) DATA_DIR=${arg#*=} ;;
    --titles_file=*) TITLES=${arg#*=} ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "unknown flag $arg (see --help)" >&2; exit 2 ;;
    *) BINARIES+=("$arg") ;;
  esac
done
if [ -z "$DATA_DIR" ] || [ -z "$TITLES" ] || [ ${#BINARIES[@]} -eq 0 ]; then
  echo "usage: bench/cpu_per_item.sh --data_dir=DIR --titles_file=FILE BINARY... (--help)" >&2
  exit 2
fi
KG_BENCH=${KG_BENCH:-$(cd "$(dirname "$0")/.." && pwd)/build/bench/kg_bench}
TICKS=$(getconf CLK_TCK)
LOG=$(mktemp)
trap 'rm -f "$LOG"' EXIT
for round in $(seq "$ROUNDS"); do
  for bin in "${BINARIES[@]}"; do
    "$bin" --port="$PORT" --metrics_port=-1 --partition_count=4 --data_dir="$DATA_DIR" > "$LOG" 2>&1 &
    pid=$!
    for _ in $(seq 120); do grep -q "\] SERVING" "$LOG" && break; sleep 0.5; done
    line="round $round $(basename "$bin"):"
    for spec in "100 1" "1 32"; do
      read -r batch inflight <<< "$spec"
      before=$(awk '{print $14 + $15}' /proc/$pid/stat)
      out=$("$KG_BENCH" --addr=127.0.0.1:"$PORT" --rpc="$RPC" --titles_file="$TITLES" \
        --batch="$batch" --concurrency="$inflight" --duration=5 --baseline=false 2>&1 | tail -1)
      after=$(awk '{print $14 + $15}' /proc/$pid/stat)
      items=$(echo "$out" | awk '{print $3}')
      us=$(awk -v a="$before" -v b="$after" -v t="$TICKS" -v n="$items" \
        'BEGIN { printf "%.1f", (n > 0 ? (b - a) / t * 1e6 / (n * 5) : 0) }')
      line="$line  batch $batch x $inflight in flight: $items items/s, $us us CPU/item;"
    done
    echo "$line"
    kill -TERM "$pid"
    wait "$pid" || true
  done
done
