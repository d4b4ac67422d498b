#!/usr/bin/env bash
# Installs what is missing, builds, generates the sample graph (once), and starts kg_server
# in the embedded mode with the sample loaded; prints how to query it. Re-running restarts
# the server (e.g. after a rebuild) and reuses the generated sample.
#   scripts/run.sh --secure   the same with TLS and bearer tokens (docs/SECURITY.md): makes a
#                             CA, a certificate for 127.0.0.1 and an admin token under
#                             var/secure/ (once) and prints the client flags to use
#   env: KG_PORT (50051), KG_METRICS_PORT (9464), KG_SCALE (1 = ~1M edges), KG_VAR (var/)
set -euo pipefail
SECURE=0
for arg in "$@"; do
  case "$arg" in
    --secure) SECURE=1 ;;
    *) echo "usage: scripts/run.sh [--secure]" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${KG_PORT:-50051}
METRICS_PORT=${KG_METRICS_PORT:-9464}
SCALE=${KG_SCALE:-1}
VAR=${KG_VAR:-$ROOT/var}
BUILD_DIR=${BUILD_DIR:-build}
mkdir -p "$VAR"

scripts/install_deps.sh
scripts/build.sh --target kg_server kgctl kg_python_stubs

KGCTL="$ROOT/$BUILD_DIR/client/kgctl/kgctl"
SERVER="$ROOT/$BUILD_DIR/server/app/kg_server"
# 5% of the SPUs and of the products' INSTANCE_OF edges are withheld, for `kgctl spu assign`
# (the withheld records are kept beside the sample as its answer key), and the generator's
# planted truths (audiences, pairs of products and why one outsells the other) beside it.
# "g2": the generator's version (a sample made by an older generator is not reused).
SAMPLE="$VAR/sample-scale$SCALE-u5-g2.jsonl"
if [ ! -s "$SAMPLE" ]; then
  echo "generating the sample graph (scale $SCALE) into $SAMPLE ..."
  "$KGCTL" generate --scale="$SCALE" --seed=42 --unassigned_percent=5 --out="$SAMPLE.tmp" \
    --withheld_out="$SAMPLE.withheld" --planted_out="$SAMPLE.planted" > "$VAR/sample-counts.json"
  mv "$SAMPLE.tmp" "$SAMPLE"
fi
# Example keys that show something: the most purchased product and the buyer with the
# most purchases in the sample (picked once per sample).
KEYS="$SAMPLE.example-keys"
if [ ! -s "$KEYS" ]; then
  grep '"type":"PURCHASED"' "$SAMPLE" |
    sed -E 's/.*"src":\{"type":"BUYER","id":"([0-9]+)"\}.*"dst":\{"type":"PRODUCT","id":"([0-9]+)"\}.*/\1 \2/' \
    > "$VAR/purchases.tmp"
  PRODUCT_ID=$(awk '{print $2}' "$VAR/purchases.tmp" | sort | uniq -c | sort -k1,1nr -k2,2n | awk 'NR==1{print $2}')
  BUYER_ID=$(awk '{print $1}' "$VAR/purchases.tmp" | sort | uniq -c | sort -k1,1nr -k2,2n | awk 'NR==1{print $2}')
  rm -f "$VAR/purchases.tmp"
  echo "${BUYER_ID:-1} ${PRODUCT_ID:-1}" > "$KEYS"
fi
read -r BUYER_ID PRODUCT_ID < "$KEYS"
# A planted pair: the winner, the loser and the cause the generator planted.
PAIR=$(grep -m1 '"kind":"pair"' "$SAMPLE.planted" || true)
WINNER=$(echo "$PAIR" | sed -E 's/.*"winner":"?([0-9]+).*/\1/')
LOSER=$(echo "$PAIR" | sed -E 's/.*"loser":"?([0-9]+).*/\1/')
CAUSE=$(echo "$PAIR" | sed -E 's/.*"cause":"([a-z]+)".*/\1/')

# Stop a server left by an earlier run.
if [ -f "$VAR/kg_server.pid" ] && kill -0 "$(cat "$VAR/kg_server.pid")" 2>/dev/null; then
  echo "stopping the previous server (pid $(cat "$VAR/kg_server.pid")) ..."
  kill -TERM "$(cat "$VAR/kg_server.pid")"
  for _ in $(seq 1 100); do
    kill -0 "$(cat "$VAR/kg_server.pid")" 2>/dev/null || break
    sleep 0.1
  done
fi

ADDR=127.0.0.1:$PORT
SECURITY_FLAGS=()
CONN="--addr=$ADDR"
if [ "$SECURE" = 1 ]; then
  SEC="$VAR/secure"
  if [ ! -s "$SEC/tokens.txt" ]; then
    mkdir -p "$SEC"
    chmod 700 "$SEC"
    openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj /CN=kg-quickstart-ca \
      -keyout "$SEC/ca.key" -out "$SEC/ca.pem" 2> /dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kg-quickstart -keyout "$SEC/server.key" \
      -out "$SEC/server.csr" 2> /dev/null
    echo "subjectAltName=IP:127.0.0.1,DNS:localhost" > "$SEC/san.cnf"
    openssl x509 -req -in "$SEC/server.csr" -CA "$SEC/ca.pem" -CAkey "$SEC/ca.key" \
      -CAcreateserial -days 365 -extfile "$SEC/san.cnf" -out "$SEC/server.pem" 2> /dev/null
    "$KGCTL" token new --role=admin --name=quickstart-admin > "$SEC/admin.json"
    sed -E 's/.*"token":"([^"]*)".*/\1/' "$SEC/admin.json" > "$SEC/admin.token"
    sed -E 's/.*"line":"([^"]*)".*/\1/' "$SEC/admin.json" > "$SEC/tokens.txt"
    rm -f "$SEC/admin.json"
  fi
  SECURITY_FLAGS=(--tls_cert="$SEC/server.pem" --tls_key="$SEC/server.key"
    --auth_tokens="$SEC/tokens.txt")
  CONN="--addr=$ADDR --tls_ca=$SEC/ca.pem"
  export KG_TOKEN
  KG_TOKEN=$(cat "$SEC/admin.token")
fi

rm -f "$VAR/ports"
echo "starting kg_server (embedded mode) on $ADDR, loading the sample ..."
nohup "$SERVER" --role=all --host=127.0.0.1 --port="$PORT" --metrics_port="$METRICS_PORT" \
  --load_file="$SAMPLE" --port_file="$VAR/ports" ${SECURITY_FLAGS[@]+"${SECURITY_FLAGS[@]}"} \
  > "$VAR/kg_server.log" 2>&1 &
echo $! > "$VAR/kg_server.pid"
for _ in $(seq 1 1200); do
  [ -f "$VAR/ports" ] && break
  if ! kill -0 "$(cat "$VAR/kg_server.pid")" 2>/dev/null; then
    echo "kg_server exited; its log:" >&2
    cat "$VAR/kg_server.log" >&2
    exit 1
  fi
  sleep 0.1
done
if [ ! -f "$VAR/ports" ]; then
  echo "kg_server did not become ready in 120 s; see $VAR/kg_server.log" >&2
  exit 1
fi
grep -E 'loaded|SERVING' "$VAR/kg_server.log" | sed 's/^/  /'

echo "training the knowledge models from the loaded graph (kgctl train) ..."
"$KGCTL" $CONN train --progress=false > "$VAR/train.json"
sed -E 's/.*"modelVersion":"([^"]*)".*"accuracyDepth1":([0-9.]{0,5}).*/  model \1 (validation top-1 at depth 1: \2)/' "$VAR/train.json"
# The end of the sample's event window (kgctl generate's --end_time_ms default).
END_MS=1793491200000
# A product and a merchant of the sample to categorize, and a root category.
TITLE=$(grep -m1 '^{"entity":{"key":{"type":"PRODUCT"' "$SAMPLE" | sed -E 's/.*"name":"([^"]*)".*/\1/')
if [ "$SECURE" = 1 ]; then
  SECURE_NOTE="
TLS and bearer tokens are on (docs/SECURITY.md). First, in your shell:
  export KG_TOKEN=\$(cat $SEC/admin.token)   # an admin token; kgctl token new makes more
"
else
  SECURE_NOTE=""
fi
cat <<MSG

kg_server is SERVING (pid $(cat "$VAR/kg_server.pid"), log $VAR/kg_server.log)
  gRPC:    $ADDR        (kg.v1.GraphService, kg.v1.KnowledgeService, kg.v1.InsightService,
                                kg.v1.AdminService, health, reflection)
  metrics: http://127.0.0.1:$METRICS_PORT/metrics
  stop:    kill \$(cat $VAR/kg_server.pid)
$SECURE_NOTE
Try (kgctl prints one JSON object per line):
  # 1. a buyer's 5 newest purchases, with the products inline
  $KGCTL $CONN neighbors BUYER:$BUYER_ID --type=PURCHASED --dir=out --limit=5 --entities --fields=name,metrics.price
  # 2. "also bought" for the best-selling product: products sharing the most buyers with it
  $KGCTL $CONN traverse PRODUCT:$PRODUCT_ID --hops=in:PURCHASED,out:PURCHASED --max_results=5 --entities --fields=name
  # 3. categorize a title, a stored product and a merchant's catalog (top 2 each)
  $KGCTL $CONN categorize "$TITLE" PRODUCT:$PRODUCT_ID MERCHANT:1 --top_k=2
  # 4. the taxonomy: the roots with two levels below, product counts
  $KGCTL $CONN taxonomy --depth=2
  # 5. brands and attributes in a title and in a stored product's title
  $KGCTL $CONN brands "$TITLE" PRODUCT:$PRODUCT_ID
  $KGCTL $CONN attributes "$TITLE" "Acme Steel Bottle 750 ml, Pack of 2"
  # 6. SPUs: candidates for a title; products without an SPU attached or grouped (dry run)
  $KGCTL $CONN spu match "$TITLE" --top_k=2
  $KGCTL $CONN spu assign --dry_run --max_listed=3
  # 7. the cluster: partitions, counts, memory, model version
  $KGCTL $CONN cluster-info
  # 8. insight: who the best seller suits; the top products of root category 1 by
  #    purchases in the sample's last 30 days; why PRODUCT:$WINNER outsells PRODUCT:$LOSER
  #    (the generator planted "$CAUSE")
  $KGCTL $CONN profile PRODUCT:$PRODUCT_ID --table
  $KGCTL $CONN top CATEGORY:1 --metric=purchases --window=30d --until_ms=$END_MS --limit=5 --table
  $KGCTL $CONN compare PRODUCT:$WINNER PRODUCT:$LOSER --table

MSG
if [ "$SECURE" = 1 ]; then
  cat <<MSG
From Python (client/python/README.md), with KG_TOKEN set:
  PYTHONPATH=build/client/python:client/python /usr/bin/python3 -c 'from kgclient import KgClient, TlsOptions; print(KgClient("$ADDR", tls=TlsOptions(root_certificates="$SEC/ca.pem")).get_entities(["PRODUCT:$PRODUCT_ID"])[0])'
MSG
else
  cat <<MSG
From Python (client/python/README.md):
  PYTHONPATH=build/client/python:client/python /usr/bin/python3 -c 'from kgclient import KgClient; print(KgClient("$ADDR").get_entities(["PRODUCT:$PRODUCT_ID"])[0])'

Or with any gRPC client through reflection, e.g. buf curl (npm install @bufbuild/buf):
  npx buf curl --protocol grpc --http2-prior-knowledge \\
    -d '{"keys":[{"type":"PRODUCT","id":"$PRODUCT_ID"}]}' http://$ADDR/kg.v1.GraphService/GetEntities
MSG
fi
