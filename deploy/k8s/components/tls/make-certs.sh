#!/bin/sh
# Makes the certificates of components/tls with openssl: two CAs of your own and the files
# of the Secrets kg-public-tls and kg-cluster-tls, one directory per Secret, each file
# named as its Secret key, so that
#   kubectl -n NAMESPACE create secret generic kg-cluster-tls --from-file=OUT/kg-cluster-tls
# makes the Secret (deploy/k8s/README.md, "TLS and tokens"). The check's local start
# (deploy/k8s/check/lib/smoke.js) makes its throwaway certificates with this script.
#
# Usage: make-certs.sh OUT_DIR [PARTITION_PODS] [NAMESPACE]
#   PARTITION_PODS  the partition servers' replicas (default 4, the example's)
#   NAMESPACE       the overlay's namespace (default kg)
# Environment:
#   KG_PUBLIC_NAMES  more DNS names of the public certificate, space-separated (the names
#                    clients use, e.g. "kg.example.com")
#   KG_CERT_DAYS     validity of the two server certificates (default 365)
#   KG_CA_DAYS       validity of new CAs (default 3650)
#
# OUT_DIR/ca/ keeps the CAs' keys: keep it offline, never in a Secret or in git. Running
# the script again on the same OUT_DIR reuses the CAs and issues new certificates (a
# renewal that clients and peers keep trusting); delete OUT_DIR/ca to start new CAs.
#
# Writes:
#   OUT_DIR/kg-public-tls/  tls.crt tls.key  the front ends' gRPC port; names kg-frontend,
#                           kg-frontend.NAMESPACE[.svc[.cluster.local]] and KG_PUBLIC_NAMES
#                           ca.crt           the public CA (clients' --tls_ca; the probes')
#   OUT_DIR/kg-cluster-tls/ tls.crt tls.key  the partition links, both sides (server and
#                           client use); names kg-partition-N.kg-partition for every pod N,
#                           and kg-partition-N.kg-partition.NAMESPACE.svc[.cluster.local]
#                           ca.crt           the cluster CA
# Keys are ECDSA P-256.
set -eu
out="${1:?usage: make-certs.sh OUT_DIR [PARTITION_PODS] [NAMESPACE]}"
pods="${2:-4}"
ns="${3:-kg}"
days="${KG_CERT_DAYS:-365}"
ca_days="${KG_CA_DAYS:-3650}"
case "$pods" in '' | *[!0-9]*) echo "make-certs.sh: PARTITION_PODS must be a number" >&2; exit 2 ;; esac
umask 077
mkdir -p "$out/ca" "$out/kg-public-tls" "$out/kg-cluster-tls"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ca NAME: OUT_DIR/ca/NAME.crt and .key, made once.
ca() {
  if [ ! -f "$out/ca/$1.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$ca_days" \
      -subj "/CN=$1" -keyout "$out/ca/$1.key" -out "$out/ca/$1.crt" 2>"$tmp/err" \
      || { cat "$tmp/err" >&2; exit 1; }
  fi
}

# issue CA DIR CN USAGE SAN: DIR/tls.key, DIR/tls.crt (signed by CA), DIR/ca.crt.
issue() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
    -keyout "$tmp/tls.key" -out "$tmp/tls.csr" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$4" "$5" >"$tmp/ext.cnf"
  openssl x509 -req -in "$tmp/tls.csr" -CA "$out/ca/$1.crt" -CAkey "$out/ca/$1.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$days" -extfile "$tmp/ext.cnf" \
    -out "$tmp/tls.crt" 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  cp "$out/ca/$1.crt" "$2/ca.crt"
  # The key first, then the certificate (a server reading in between keeps its last pair).
  mv "$tmp/tls.key" "$2/tls.key"
  mv "$tmp/tls.crt" "$2/tls.crt"
  chmod 644 "$2/ca.crt" "$2/tls.crt"
}

ca kg-public-ca
ca kg-cluster-ca

san="DNS:kg-frontend,DNS:kg-frontend.$ns,DNS:kg-frontend.$ns.svc,DNS:kg-frontend.$ns.svc.cluster.local"
for name in ${KG_PUBLIC_NAMES:-}; do san="$san,DNS:$name"; done
issue kg-public-ca "$out/kg-public-tls" kg-frontend serverAuth "$san"

san=""
i=0
while [ "$i" -lt "$pods" ]; do
  host="kg-partition-$i.kg-partition"
  san="$san${san:+,}DNS:$host,DNS:$host.$ns.svc,DNS:$host.$ns.svc.cluster.local"
  i=$((i + 1))
done
[ -n "$san" ] || { echo "make-certs.sh: PARTITION_PODS must be at least 1" >&2; exit 2; }
issue kg-cluster-ca "$out/kg-cluster-tls" kg-cluster serverAuth,clientAuth "$san"

echo "make-certs.sh: wrote $out/kg-public-tls and $out/kg-cluster-tls ($pods partition pods, namespace $ns); CA keys in $out/ca" >&2
