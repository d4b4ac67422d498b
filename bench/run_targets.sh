#!/usr/bin/env bash
# Runs the throughput and latency measurements of docs/PERFORMANCE.md (issue 4's targets)
# on this machine, in one go: the embedded server on the scale-1 sample, then the split mode
# (a front end and two partition servers). Each kg_bench run's JSON goes to OUT/; a summary
# is printed at the end. Needs a built tree (scripts/build.sh) and nothing else running.
#   env: BUILD_DIR (build), OUT (var/bench), DURATION (8 s per phase), SCALE (1)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-var/bench}
DURATION=${DURATION:-8}
SCALE=${SCALE:-1}
mkdir -p "$OUT"
KGCTL=$BUILD_DIR/client/kgctl/kgctl
SERVER=$BUILD_DIR/server/app/kg_server
BENCH=$BUILD_DIR/bench/kg_bench
SAMPLE=var/sample-scale$SCALE.jsonl
PY=/usr/bin/python3

if [ ! -s "$SAMPLE" ]; then
  mkdir -p var
  "$KGCTL" generate --scale="$SCALE" --seed=42 --out="$SAMPLE.tmp" > /dev/null
  mv "$SAMPLE.tmp" "$SAMPLE"
fi

PIDS=()
cleanup() { [ ${#PIDS[@]} -eq 0 ] || kill "${PIDS[@]}" 2>/dev/null || true; }
trap cleanup EXIT

# start NAME ARGS...: starts kg_server in the background, waits until it serves, and sets
# ADDR to its gRPC address.
start() {
  local name=$1
  shift
  rm -f "$OUT/$name.ports"
  "$SERVER" --host=127.0.0.1 --port=0 --metrics_port=-1 --log_level=warn \
    --port_file="$OUT/$name.ports" "$@" > "$OUT/$name.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 1 1800); do
    [ -s "$OUT/$name.ports" ] && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || { cat "$OUT/$name.log" >&2; exit 1; }
    sleep 0.1
  done
  ADDR=$(sed -n 's/^grpc=//p' "$OUT/$name.ports")
  [ -n "$ADDR" ] || { echo "$name did not start" >&2; exit 1; }
}

bench() {  # bench NAME ARGS...: one kg_bench run, JSON to OUT/NAME.json
  local name=$1
  shift
  echo "kg_bench $* -> $OUT/$name.json" >&2
  "$BENCH" --duration="$DURATION" --warmup=2 --json "$@" > "$OUT/$name.json"
}

rate_of() {  # rate_of FILE RPC: calls/s of a phase
  $PY -c 'import json,sys; print(int(next(p["calls_per_s"] for p in json.load(open(sys.argv[1]))["phases"] if p["rpc"]==sys.argv[2])))' "$1" "$2"
}

# Embedded mode.
start embedded --role=all --load_file="$SAMPLE"
EMBEDDED=$ADDR
bench embedded-closed --addr="$EMBEDDED" \
  --rpc=GetEntities,GetNeighbors,GetNeighborsInline,CountNeighbors,Traverse
bench embedded-batch100 --addr="$EMBEDDED" --rpc=GetEntities --batch=100
for rpc in GetEntities GetNeighbors; do
  half=$(($(rate_of "$OUT/embedded-closed.json" "$rpc") / 2))
  bench "embedded-open-$rpc" --addr="$EMBEDDED" --rpc="Health,$rpc" --rate="$half" --baseline=false
done
bench embedded-full-decode --addr="$EMBEDDED" --rpc=GetEntities,GetNeighborsInline --decode=full
kill "${PIDS[@]}"
wait 2>/dev/null || true
PIDS=()

# Split mode: two partition servers (4 partitions each) and a front end.
start part0 --role=partition --partition_count=8 --partitions=0-3 --load_file="$SAMPLE"
P0=$ADDR
start part1 --role=partition --partition_count=8 --partitions=4-7 --load_file="$SAMPLE"
P1=$ADDR
printf 'partitions 8\nserver %s 0-3\nserver %s 4-7\n' "$P0" "$P1" > "$OUT/cluster.txt"
start frontend --role=frontend --cluster_file="$OUT/cluster.txt"
bench split-closed --addr="$ADDR" --rpc=GetEntities,GetNeighbors,GetNeighborsInline
bench split-batch100 --addr="$ADDR" --rpc=GetEntities --batch=100

$PY - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
print(f"{'run':28} {'rpc':20} {'calls/s':>9} {'keys/s':>10} {'vs.hlth':>7} {'p50us':>7} {'p99us':>7} {'p99.9us':>8}  errors")
for name in sorted(os.listdir(out)):
    if not name.endswith('.json'):
        continue
    for p in json.load(open(os.path.join(out, name)))['phases']:
        print(f"{name[:-5]:28} {p['rpc']:20} {p['calls_per_s']:9.0f} {p['keys_per_s']:10.0f} "
              f"{p['ratio_to_health']:7.3f} {p['p50_us']:7d} {p['p99_us']:7d} {p['p999_us']:8d}  "
              f"{p['errors'] or '-'}")
EOF
