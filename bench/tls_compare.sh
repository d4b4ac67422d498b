#!/usr/bin/env bash
# TLS against plain text in one run (issue 14's target: GetEntities with TLS >= 0.8x plain):
# two embedded servers on the scale-1 sample, one plain and one with --tls_cert/--tls_key
# (a CA and a certificate for 127.0.0.1 made here with openssl), then alternating kg_bench
# phases (Health baseline, then GetEntities; 1 key per call, 32 in flight, 2 connections),
# ROUNDS times each. Prints each phase and the ratio of the TLS and plain GetEntities
# means. Needs a built tree (scripts/build.sh) and the sample (scripts/run.sh makes it).
#   env: BUILD_DIR (build), OUT (var/bench-tls), DURATION (10 s per phase), ROUNDS (2),
#        BATCH (1 key per call)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-var/bench-tls}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-2}
BATCH=${BATCH:-1}
SERVER=$BUILD_DIR/server/app/kg_server
BENCH=$BUILD_DIR/bench/kg_bench
SAMPLE=var/sample-scale1-u5-g2.jsonl
PY=/usr/bin/python3
[ -s "$SAMPLE" ] || { echo "$SAMPLE missing: scripts/run.sh generates it" >&2; exit 1; }
mkdir -p "$OUT"
source bench/lib.sh

PKI=$OUT/pki
mkdir -p "$PKI"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=kg-bench-ca \
  -keyout "$PKI/ca.key" -out "$PKI/ca.pem" 2> /dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$PKI/server.key" \
  -out "$PKI/server.csr" 2> /dev/null
echo "subjectAltName=IP:127.0.0.1" > "$PKI/san.cnf"
openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
  -CAcreateserial -days 2 -extfile "$PKI/san.cnf" -out "$PKI/server.pem" 2> /dev/null

start plain --role=all --load_file="$SAMPLE"
PLAIN=$ADDR
start tls --role=all --load_file="$SAMPLE" --tls_cert="$PKI/server.pem" --tls_key="$PKI/server.key"
TLS=$ADDR
for round in $(seq 1 "$ROUNDS"); do
  bench "plain-$round" --addr="$PLAIN" --rpc=GetEntities --batch="$BATCH"
  bench "tls-$round" --addr="$TLS" --tls_ca="$PKI/ca.pem" --rpc=GetEntities --batch="$BATCH"
done
kill "${PIDS[@]}"
wait 2> /dev/null || true
PIDS=()

$PY - "$OUT" "$ROUNDS" <<'PYEOF'
import json, os, sys
out, rounds = sys.argv[1], int(sys.argv[2])
mean = {}
for mode in ("plain", "tls"):
    rates = []
    for r in range(1, rounds + 1):
        for p in json.load(open(os.path.join(out, f"{mode}-{r}.json")))["phases"]:
            print(f"{mode}-{r:<3} {p['rpc']:12} {p['calls_per_s']:9.0f}/s  vs.health "
                  f"{p['ratio_to_health']:.3f}  p50 {p['p50_us']}us  p99 {p['p99_us']}us  "
                  f"errors {p['errors'] or '-'}")
            if p["rpc"] == "GetEntities":
                rates.append(p["calls_per_s"])
    mean[mode] = sum(rates) / len(rates)
ratio = mean["tls"] / mean["plain"]
print(f"GetEntities: plain {mean['plain']:.0f}/s, TLS {mean['tls']:.0f}/s, "
      f"TLS/plain {ratio:.3f} (target >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'})")
PYEOF
