#!/usr/bin/env bash
# Soak test (issue 14): holds half of the measured maximum load of a mix of reads and writes
# against a durable embedded server for a given time, records every minute the server's
# resident memory, its graph size, latency, calls and errors, and checks the targets:
#   - resident memory (VmRSS) at the last minute within 5% of minute 5 (minute 1 when the
#     run has 5 minutes or fewer);
#   - p99 latency of the last five minutes within 1.5x of the first five: the median of the
#     per-minute p99s of each window is compared (with fewer than 10 minutes the windows
#     are the first and last floor(minutes/2));
#   - no errors (any non-OK status, a rejected item of an UpsertEdges batch, or a call
#     kg_bench dropped because 20,000 were outstanding).
# Exits 0 when every target is met and the server exited cleanly on SIGTERM, 1 otherwise,
# 2 on a usage error.
#
# Steps: starts build/server/app/kg_server --role=all --data_dir=TMP/data (durable,
# RocksDB) --partition_count=4 on 127.0.0.1 (free ports) with the scale-1 sample loaded;
# measures the maximum with one closed-loop kg_bench phase of the mix (32 calls in flight,
# 2 channels, --max_seconds); then runs one open-loop kg_bench phase per minute at half that
# rate (--baseline=false --warmup=0 --duration=--phase_seconds), and after each phase writes
# a line to OUT/soak.tsv and echoes it; finally stops the server with SIGTERM and checks that
# it exits with 0 within 30 s. The data directory lives in a temporary directory removed on
# exit (also on Ctrl-C); the results stay in OUT.
#
# Writes: the mix's UpsertEdges writes PURCHASED edges between random buyers and products.
# Drawn afresh every minute, nearly every one would be a new edge (50,000 x 19,052 possible
# pairs) and the graph, hence memory, would grow all the time. So every minute's kg_bench
# run uses the same --seed: the open loop issues the same sequence of calls and keys each
# minute, the first minute creates its edges, and every later minute overwrites them (an
# upsert of an existing (src, type, dst) replaces its time and weight). The `edges` column
# (sum of kg_edges{direction="OUT"}) shows that the graph stops growing after minute 1.
# The closed-loop measurement before it adds its own few edges.
#
# Columns of OUT/soak.tsv:
#   minute          0 = after loading and measuring, before the soak; then 1..MINUTES
#   rss_bytes       VmRSS of the server process (/proc/PID/status)
#   metric_rss      kg_process_resident_memory_bytes from its /metrics
#   edges           logical edges stored: sum of kg_edges{direction="OUT"}
#   graph_bytes     the graph's own memory: sum of kg_partition_memory_bytes (the rest of
#                   the resident memory is RocksDB's memtables and caches, gRPC, the allocator)
#   data_bytes      size of the data directory (RocksDB stores and logs)
#   calls           calls that succeeded in the phase (kg_bench "ok")
#   calls_per_s     those per second
#   p50_ms, p99_ms  latency from each call's scheduled start (open loop: queueing counts)
#   errors          calls that failed; error_codes: by status code (kg_bench's names)
#   load1           the machine's 1-minute load average (other work on the 2 cores shows here)
#
# Usage (from anywhere; needs a built tree: kg_server, kg_bench):
#   bench/soak.sh                              # 30 minutes, ~31 minutes in all
#   bench/soak.sh --minutes=3                  # a short try
#   bench/soak.sh --minutes=3 --phase_seconds=20 --max_seconds=10   # a quicker one
# Options:
#   --minutes=N        phases to run (30)
#   --phase_seconds=S  length of each phase, "a minute" (60)
#   --max_seconds=S    length of the closed-loop phase that measures the maximum (20)
#   --rate=R           skip the measurement and hold R calls/s
#   --mix=SPEC         kg_bench --mix (GetEntities:60,GetNeighbors:25,Traverse:5,UpsertEdges:10)
#   --sample=FILE      JSONL loaded at start (var/sample-scale1-u5-g2.jsonl, the sample
#                      scripts/run.sh generates; run that once on a fresh clone)
#   --out=DIR          results: soak.tsv, kg_bench JSON per minute, server log, RocksDB's
#                      LOG of each partition (flushes, compactions, write stalls)
#                      (var/soak/YYYYmmdd-HHMMSS)
#   env BUILD_DIR (build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
MINUTES=30
PHASE_SECONDS=60
MAX_SECONDS=20
RATE=0
MIX=GetEntities:60,GetNeighbors:25,Traverse:5,UpsertEdges:10
SAMPLE=var/sample-scale1-u5-g2.jsonl
OUT=var/soak/$(date +%Y%m%d-%H%M%S)
for arg in "$@"; do
  case $arg in
    --minutes=*) MINUTES=${arg#*=} ;;
    --phase_seconds=*) PHASE_SECONDS=${arg#*=} ;;
    --max_seconds=*) MAX_SECONDS=${arg#*=} ;;
    --rate=*) RATE=${arg#*=} ;;
    --mix=*) MIX=${arg#*=} ;;
    --sample=*) SAMPLE=${arg#*=} ;;
    --out=*) OUT=${arg#*=} ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown argument $arg (--help lists the options)" >&2; exit 2 ;;
  esac
done
for n in "$MINUTES" "$PHASE_SECONDS" "$MAX_SECONDS" "$RATE"; do
  [[ $n =~ ^[0-9]+$ ]] || { echo "soak.sh: expected a whole number, got \"$n\"" >&2; exit 2; }
done
[ "$MINUTES" -ge 1 ] || { echo "soak.sh: --minutes must be at least 1" >&2; exit 2; }
SERVER=$BUILD_DIR/server/app/kg_server
BENCH=$BUILD_DIR/bench/kg_bench
for bin in "$SERVER" "$BENCH"; do
  [ -x "$bin" ] || { echo "soak.sh: $bin is not built (scripts/build.sh)" >&2; exit 2; }
done
if [ ! -s "$SAMPLE" ]; then
  echo "soak.sh: $SAMPLE is missing; scripts/run.sh generates it (or pass --sample=FILE)" >&2
  exit 2
fi
PY=/usr/bin/python3
mkdir -p "$OUT"
TSV=$OUT/soak.tsv

TMP=$(mktemp -d /tmp/kg-soak.XXXXXX)
PID=
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill -TERM "$PID" 2>/dev/null || true
    sleep 5
    kill -KILL "$PID" 2>/dev/null || true
  fi
  for log in "$TMP"/data/partition-*/LOG; do  # RocksDB's own log: flushes, compactions, stalls
    [ -f "$log" ] && cp "$log" "$OUT/rocksdb-$(basename "$(dirname "$log")").LOG"
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "starting kg_server (durable, 4 partitions) with $SAMPLE; log $OUT/kg_server.log"
"$SERVER" --role=all --host=127.0.0.1 --port=0 --metrics_port=0 --port_file="$TMP/ports" \
  --data_dir="$TMP/data" --partition_count=4 --load_file="$SAMPLE" --log_level=warn \
  > "$OUT/kg_server.log" 2>&1 &
PID=$!
for _ in $(seq 1 3000); do  # loading the sample durably takes ~1 minute
  [ -s "$TMP/ports" ] && grep -q '^metrics=' "$TMP/ports" && break
  kill -0 "$PID" 2>/dev/null || { echo "kg_server exited:" >&2; cat "$OUT/kg_server.log" >&2; exit 1; }
  sleep 0.1
done
ADDR=$(sed -n 's/^grpc=//p' "$TMP/ports")
METRICS=$(sed -n 's/^metrics=//p' "$TMP/ports")
[ -n "$ADDR" ] && [ -n "$METRICS" ] || { echo "kg_server did not start in 300 s" >&2; exit 1; }
echo "serving on $ADDR, metrics on http://$METRICS/metrics (pid $PID)"

bench() {  # bench JSON_FILE ARGS...: one kg_bench run of the mix alone
  local json=$1
  shift
  "$BENCH" --addr="$ADDR" --rpc= --baseline=false --mix="$MIX" --json "$@" > "$json" ||
    echo "kg_bench exited with $? (see $json)" >&2
}

FIELDS=(minute rss_bytes metric_rss edges graph_bytes data_bytes calls calls_per_s p50_ms p99_ms
  errors error_codes load1)
# record MINUTE [JSON]: one line of the table (the phase's columns empty without JSON).
record() {
  local minute=$1 json=${2:-} metrics
  metrics=$(curl -sf --max-time 10 "http://$METRICS/metrics" || true)
  sum() { awk -v re="$1" '$0 ~ re {s += $NF} END {printf "%.0f", s}' <<< "$metrics"; }
  $PY - "$json" "$minute" "$(awk '/^VmRSS:/ {print $2 * 1024}' "/proc/$PID/status")" \
    "$(sum '^kg_process_resident_memory_bytes ')" "$(sum '^kg_edges[{].*direction="OUT"')" \
    "$(sum '^kg_partition_memory_bytes[{]')" "$(du -sb "$TMP/data" 2> /dev/null | cut -f1 || true)" \
    "$(cut -d' ' -f1 /proc/loadavg)" << 'EOF' | tee -a "$TSV"
import json, sys
path, *server, load = sys.argv[1:]
calls = rate = p50 = p99 = errors = ''
codes = '-'
if path:
    try:
        p = next(p for p in json.load(open(path))['phases'] if p['rpc'] == 'mix')
        calls, rate = p['ok'], f"{p['calls_per_s']:.1f}"
        p50, p99 = f"{p['p50_us'] / 1000:.3f}", f"{p['p99_us'] / 1000:.3f}"
        errors = sum(p['errors'].values())
        codes = ','.join(f'{k}={v}' for k, v in p['errors'].items()) or '-'
    except (OSError, ValueError, StopIteration, KeyError):
        errors, codes = 1, 'NO_RESULT'  # kg_bench failed: counts as an error
print('\t'.join(map(str, server + [calls, rate, p50, p99, errors, codes, load])))
EOF
}

(IFS=$'\t'; echo "${FIELDS[*]}") | tee "$TSV"
if [ "$RATE" -eq 0 ]; then
  echo "measuring the maximum: closed loop, 32 in flight, --mix=$MIX, ${MAX_SECONDS} s" >&2
  bench "$OUT/max.json" --duration="$MAX_SECONDS" --warmup=2
  MAX=$($PY -c 'import json, sys; print(int(json.load(sys.stdin)["phases"][0]["calls_per_s"]))' \
    < "$OUT/max.json")
  RATE=$((MAX / 2))
  echo "maximum $MAX calls/s; holding $RATE calls/s" >&2
fi
[ "$RATE" -gt 0 ] || { echo "soak.sh: no rate to hold" >&2; exit 1; }
record 0
for minute in $(seq 1 "$MINUTES"); do
  bench "$OUT/minute-$minute.json" --rate="$RATE" --warmup=0 --duration="$PHASE_SECONDS" --seed=7
  kill -0 "$PID" 2>/dev/null || { echo "kg_server died; its log: $OUT/kg_server.log" >&2; exit 1; }
  record "$minute" "$OUT/minute-$minute.json"
done

echo "stopping kg_server (SIGTERM)"
kill -TERM "$PID"
STOP=0
for _ in $(seq 1 300); do
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.1
done
if kill -0 "$PID" 2>/dev/null; then
  echo "kg_server still running 30 s after SIGTERM" >&2
  STOP=1
else
  wait "$PID" || STOP=$?
  PID=
fi

$PY - "$TSV" "$RATE" "$STOP" <<'EOF'
import csv, statistics, sys
path, rate, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = [r for r in csv.DictReader(open(path), delimiter='\t') if r['minute'] != '0']
n = len(rows)
base = 5 if n > 5 else 1
rss0, rss1 = int(rows[base - 1]['rss_bytes']), int(rows[-1]['rss_bytes'])
growth = (rss1 - rss0) / rss0
k = min(5, max(1, n // 2))
first = [float(r['p99_ms']) for r in rows[:k] if r['p99_ms']]
last = [float(r['p99_ms']) for r in rows[-k:] if r['p99_ms']]
p99a = statistics.median(first) if first else float('nan')
p99b = statistics.median(last) if last else float('nan')
ratio = p99b / p99a if first and last and p99a > 0 else float('inf')
errors = sum(int(r['errors'] or 0) for r in rows)
calls = sum(int(r['calls'] or 0) for r in rows)
checks = [
    (growth < 0.05, f"resident memory minute {base} -> {n}: {rss0 / 2**20:.1f} -> "
                    f"{rss1 / 2**20:.1f} MiB ({growth:+.2%}; target < +5%)"),
    (ratio <= 1.5, f"p99, median of the per-minute p99s, minutes 1-{k} -> {n - k + 1}-{n}: "
                   f"{p99a:.3f} -> {p99b:.3f} ms ({ratio:.2f}x; target <= 1.5x)"),
    (errors == 0, f"errors: {errors} of {calls + errors} calls (target 0)"),
    (stop == 0, f"kg_server on SIGTERM: " + ("exited with 0" if stop == 0 else f"status {stop}")),
]
print(f"\nsoak verdict: {n} phases at {rate} calls/s")
for ok, text in checks:
    print(f"  {'PASS' if ok else 'FAIL'}  {text}")
sys.exit(0 if all(ok for ok, _ in checks) else 1)
EOF
