# Helpers of the benchmark scripts (sourced): start kg_server processes and run kg_bench.
# Expects SERVER, BENCH, OUT, DURATION and PY to be set by the caller.

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

