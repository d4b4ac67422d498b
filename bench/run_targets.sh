#!/usr/bin/env bash
# Runs the throughput and latency measurements of docs/PERFORMANCE.md (issue 4's targets)
# on this machine, in one go: the embedded server on the scale-1 sample, then the split mode
# (a front end and two partition servers), then, when redis-server is installed, the same
# composite query against Redis. Each run's JSON goes to OUT/; a summary is printed at the
# end. Needs a built tree (scripts/build.sh) and nothing else running.
# GetNeighbors reads a buyer's 20 newest VIEWED products, drawn among the buyers with at
# least 20 (so every call returns 20 edges; most buyers of the sample have only 1-3
# purchases, which would make the query nearly empty).
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

source bench/lib.sh

# Embedded mode.
start embedded --role=all --load_file="$SAMPLE"
EMBEDDED=$ADDR
TWENTY=(--edge_type=VIEWED --min_degree=20 --limit=20)
bench embedded-closed --addr="$EMBEDDED" "${TWENTY[@]}" \
  --rpc=GetEntities,GetNeighbors,GetNeighborsInline,CountNeighbors,Traverse
bench embedded-batch100 --addr="$EMBEDDED" --rpc=GetEntities --batch=100
for rpc in GetEntities GetNeighbors; do
  half=$(($(rate_of "$OUT/embedded-closed.json" "$rpc") / 2))
  bench "embedded-open-$rpc" --addr="$EMBEDDED" "${TWENTY[@]}" --rpc="Health,$rpc" \
    --rate="$half" --baseline=false
done
bench embedded-full-decode --addr="$EMBEDDED" "${TWENTY[@]}" --rpc=GetEntities,GetNeighborsInline \
  --decode=full
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
bench split-closed --addr="$ADDR" "${TWENTY[@]}" --rpc=GetEntities,GetNeighbors,GetNeighborsInline
bench split-batch100 --addr="$ADDR" --rpc=GetEntities --batch=100

kill "${PIDS[@]}"
wait 2>/dev/null || true
PIDS=()

# Redis: the same sample and the same composite query (ZREVRANGE of the buyer's 20 newest
# VIEWED products, then their 20 HGETALLs in one round trip), 32 connections.
if command -v redis-server > /dev/null; then
  REDIS_PORT=${REDIS_PORT:-6391}
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    > "$OUT/redis.log" 2>&1 &
  PIDS+=($!)
  sleep 1
  RC=$BUILD_DIR/bench/kg_redis_compare
  "$RC" --port="$REDIS_PORT" --load="$SAMPLE" --flush --json > "$OUT/redis-load.txt"
  "$RC" --port="$REDIS_PORT" --run --edge_type=VIEWED --min_products=20 --limit=20 \
    --connections=32 --duration="$DURATION" --warmup=2 --json > "$OUT/redis-composite.txt"
fi

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
path = os.path.join(out, 'redis-composite.txt')
if os.path.exists(path):
    r = json.load(open(path))
    print(f"{'redis-composite':28} {'ZREVRANGE+20xHGETALL':20} {r['queries_per_s']:9.0f} "
          f"{'':10} {'':7} {r['p50_us']:7d} {r['p99_us']:7d} {r['p999_us']:8d}  "
          f"errors={r['errors']} (Redis {r['redis_version']}, {r['products_per_query']} products/query)")
EOF
