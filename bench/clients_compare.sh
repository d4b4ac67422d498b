#!/usr/bin/env bash
# GetEntities throughput of the Python and Node.js clients against the C++ load generator
# (issue 13's target: each client >= 0.5x the C++ client), on one embedded server loaded
# with the scale-1 sample, in one run: ROUNDS rounds, each running every client variant one
# after another for each batch size (keys per call), 32 calls in flight in all, every reply
# decoded. The variants: kg_bench (C++); Python through grpcio (threads in 1 and in 4
# processes) and through the native transport (threads; get_entities_many in 1 and 2
# processes); Node.js through grpc-js and through the native transport (getEntities; then
# getEntitiesMany in 1 and 2 worker threads). Prints each phase, then per variant the
# median calls/s over the rounds and the median of its per-round ratio to that round's C++
# figure. Needs a built tree (scripts/build.sh), `npm ci` in client/node, and the sample
# (scripts/run.sh makes it).
#   env: BUILD_DIR (build), OUT (var/bench-clients), DURATION (8 s per phase), ROUNDS (3),
#        BATCHES ("1 100"), CLIENTS ("python node": which clients beside kg_bench)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build} OUT=${OUT:-var/bench-clients} DURATION=${DURATION:-8}
ROUNDS=${ROUNDS:-3} BATCHES=${BATCHES:-1 100} CLIENTS=${CLIENTS:-python node}
SERVER=$BUILD_DIR/server/app/kg_server BENCH=$BUILD_DIR/bench/kg_bench PY=/usr/bin/python3
SAMPLE=var/sample-scale1-u5-g2.jsonl PRODUCTS=19052 # the sample's PRODUCT ids are 1..19052
[ -s "$SAMPLE" ] || { echo "$SAMPLE missing: scripts/run.sh generates it" >&2; exit 1; }
mkdir -p "$OUT"
source bench/lib.sh
export PYTHONPATH=$BUILD_DIR/client/python:client/python
export KG_NODE_NATIVE=$BUILD_DIR/client/node/kgclient_native.node

start clients --role=all --load_file="$SAMPLE"
COMMON=(--concurrency=32 --duration="$DURATION" --products=$PRODUCTS)
RESULTS=$OUT/results.tsv
: > "$RESULTS"

# phase NAME BATCH ROUND COMMAND...: runs a load generator that prints JSON with its calls/s
# (kg_bench --json, bench.py, bench.js --json) and records it.
phase() {
  local name=$1 batch=$2 round=$3
  shift 3
  local json rate
  json=$("$@")
  rate=$($PY -c '
import json, sys
d = json.loads(sys.stdin.read())
if "phases" in d:
    print(int(next(p["calls_per_s"] for p in d["phases"] if p["rpc"] == "GetEntities")))
else:
    print(int(d.get("calls_per_s", d.get("callsPerSecond", 0))))' <<< "$json")
  printf '%s\t%s\t%s\t%s\n' "$name" "$batch" "$round" "$rate" >> "$RESULTS"
  printf 'round %s batch %-3s %-34s %8s calls/s\n' "$round" "$batch" "$name" "$rate"
}

for round in $(seq 1 "$ROUNDS"); do
  for batch in $BATCHES; do
    round_size=$((batch == 1 ? 512 : 64))
    phase "C++ kg_bench" "$batch" "$round" "$BENCH" --addr="$ADDR" --rpc=GetEntities --batch="$batch" \
      --channels=2 --decode=full --baseline=false --warmup=2 --json "${COMMON[@]}"
    if [[ " $CLIENTS " == *" python "* ]]; then
      py=($PY client/python/bench.py --addr="$ADDR" --batch="$batch" "${COMMON[@]}")
      phase "Python grpcio, 1 process" "$batch" "$round" "${py[@]}" --transport=grpcio
      phase "Python grpcio, 4 processes" "$batch" "$round" "${py[@]}" --transport=grpcio --processes=4
      phase "Python native, 1 process" "$batch" "$round" "${py[@]}" --transport=native
      phase "Python native many, 1 process" "$batch" "$round" "${py[@]}" --pipeline --round="$round_size"
      phase "Python native many, 2 processes" "$batch" "$round" "${py[@]}" --pipeline --round="$round_size" \
        --processes=2
      phase "Python native call_many, 2 processes" "$batch" "$round" "${py[@]}" --pipeline \
        --round="$round_size" --processes=2 --replies
    fi
    if [[ " $CLIENTS " == *" node "* ]]; then
      js=(node client/node/bench.js --addr="$ADDR" --batch="$batch" --channels=2 --json "${COMMON[@]}")
      phase "Node grpc-js" "$batch" "$round" "${js[@]}" --transport=grpc-js
      phase "Node native" "$batch" "$round" "${js[@]}" --transport=native
      phase "Node native many, 1 thread" "$batch" "$round" "${js[@]}" --pipeline --round="$round_size"
      phase "Node native many, 2 threads" "$batch" "$round" "${js[@]}" --pipeline --round="$round_size" \
        --workers=2
    fi
  done
done

$PY - "$RESULTS" <<'EOF'
import collections, statistics, sys
rows = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
rate = {(n, int(b), int(r)): int(v) for n, b, r, v in rows}
names = list(dict.fromkeys(n for n, _, _, _ in rows))
for batch in sorted({int(b) for _, b, _, _ in rows}):
    print(f"\nbatch {batch}: median calls/s over the rounds; median of the per-round ratio to C++")
    for name in names:
        rounds = sorted(r for n, b, r in rate if n == name and b == batch)
        values = [rate[(name, batch, r)] for r in rounds]
        ratios = [rate[(name, batch, r)] / max(rate[("C++ kg_bench", batch, r)], 1) for r in rounds]
        print(f"  {name:34s} {statistics.median(values):9.0f}   {statistics.median(ratios):.2f}x"
              f"   (rounds: {', '.join(str(v) for v in values)})")
EOF
