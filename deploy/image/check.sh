#!/usr/bin/env bash
# Builds the project's container image for real and checks it, with no container registry
# and no container engine (deploy/image/README.md):
#   1. installs buildah, debootstrap and the few tools used here, when missing;
#   2. makes the Debian 12 base images the Dockerfile starts FROM, debian:12 and
#      debian:12-slim, locally with debootstrap from this machine's apt mirror (cached);
#   3. builds the Dockerfile with buildah (vfs storage, chroot isolation, never pulling);
#   4. runs the image's own ENTRYPOINT and CMD (kg_server, embedded mode, the sample graph)
#      in a buildah working container and checks: every library of kg_server and kgctl
#      resolves, the server runs as uid 10001 and listens on 0.0.0.0, gRPC health is
#      SERVING (the image's kgctl), PRODUCT:1 is served as the image's sample has it,
#      /metrics answers, and SIGTERM stops it cleanly; then removes the working container.
# Prints the image size and each phase's duration; exits non-zero on any failure.
# Slow (the build stage compiles the project: 15-30 min on 2 cores), so not part of every
# test run: scripts/test.sh runs it when KG_IMAGE_CHECK=1. Runs as root.
#
# Usage: deploy/image/check.sh
#   env: KG_IMAGE_TAG (localhost/kg:check)       the image built and checked (kept afterwards)
#        KG_IMAGE_CACHE (/var/cache/kg-image)    debootstrap tarballs, reused across runs
#        KG_IMAGE_LOGS (/var/tmp/kg-image-check) this run's logs (build, server)
#        KG_IMAGE_BASE_MAX_DAYS (30)             debootstrap again when the cached base is older
#        KG_IMAGE_REBASE=1                       debootstrap again now
#        KG_IMAGE_SKIP_BUILD=1                   check the image already built as KG_IMAGE_TAG
#        KG_IMAGE_START_TIMEOUT (300)            seconds for the server to load the sample
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG=${KG_IMAGE_TAG:-localhost/kg:check}
CACHE=${KG_IMAGE_CACHE:-/var/cache/kg-image}
LOGS=${KG_IMAGE_LOGS:-/var/tmp/kg-image-check}
BASE_MAX_DAYS=${KG_IMAGE_BASE_MAX_DAYS:-30}
START_TIMEOUT=${KG_IMAGE_START_TIMEOUT:-300}
SUITE=bookworm
# Bump when the base images' recipe below changes: the cached ones are then made again.
BASE_RECIPE=1
BASE_FULL=localhost/debian:12
BASE_SLIM=localhost/debian:12-slim

export BUILDAH_ISOLATION=chroot
B=(buildah --storage-driver=vfs)

if [ "$(id -u)" -ne 0 ]; then
  echo "check.sh: run as root (buildah with vfs storage and chroot isolation, debootstrap)" >&2
  exit 2
fi
mkdir -p "$CACHE" "$LOGS"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  echo "check.sh: another image check is running (lock $CACHE/.lock)" >&2
  exit 2
fi

# ---------------------------------------------------------------------------------------
# Phases, their durations, and the summary printed however the script ends.
PHASE_NAMES=()
PHASE_SECONDS=()
PHASE=""
PHASE_T0=0
RESULT="FAILED"
IMAGE_SIZE="-"
now() { date +%s.%N; }
phase() {
  phase_done
  PHASE=$1
  PHASE_T0=$(now)
  echo "== $PHASE"
}
phase_done() {
  if [ -n "$PHASE" ]; then
    PHASE_NAMES+=("$PHASE")
    PHASE_SECONDS+=("$(awk -v a="$PHASE_T0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')")
    PHASE=""
  fi
}
fail() {
  echo "check.sh: FAIL: $*" >&2
  exit 1
}
T_START=$(now)

# Working containers and the server, removed or stopped on any exit.
RUN_CTR=""
RUN_PID=""
SERVER_PID=""
BASE_CTR=""
cleanup() {
  local rc=$?
  set +e
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$SERVER_PID" 2>/dev/null
  fi
  if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
    kill -TERM "$RUN_PID" 2>/dev/null
    wait "$RUN_PID" 2>/dev/null
  fi
  [ -n "$RUN_CTR" ] && "${B[@]}" rm "$RUN_CTR" >/dev/null 2>&1
  [ -n "$BASE_CTR" ] && "${B[@]}" rm "$BASE_CTR" >/dev/null 2>&1
  phase_done
  echo
  echo "== summary"
  local i
  for i in "${!PHASE_NAMES[@]}"; do
    printf '  %-34s %8s s\n' "${PHASE_NAMES[$i]}" "${PHASE_SECONDS[$i]}"
  done
  printf '  %-34s %8s s\n' "total" "$(awk -v a="$T_START" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')"
  echo "  image $TAG: $IMAGE_SIZE"
  [ "$rc" -ne 0 ] && RESULT="FAILED"
  echo "image check: $RESULT"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------
phase "tools (apt)"
need=()
for tool in buildah:buildah debootstrap:debootstrap curl:curl jq:jq ss:iproute2 pgrep:procps; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || need+=("${tool#*:}")
done
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
echo "$(buildah --version); debootstrap $(dpkg-query -W -f='${Version}' debootstrap)"

# ---------------------------------------------------------------------------------------
# The images' apt sources and settings, from this machine's: the Debian 12 suites it uses
# (URIs and components as apt itself reads them, whatever the sources' format) and the
# settings that reaching that mirror needs (proxy, a snapshot mirror's expired dates).
phase "base images (debootstrap)"
# shellcheck disable=SC2016  # $(SITE) etc. are apt's format fields
mapfile -t TARGETS < <(apt-get indextargets --format '$(SITE) $(RELEASE) $(COMPONENT) $(TARGET_OF)' \
  'Identifier: Packages' | awk -v s="$SUITE" \
  '$4 == "deb" && ($2 == s || $2 == s "-updates" || $2 == s "-security") {print $1, $2, $3}' | sort -u)
[ ${#TARGETS[@]} -gt 0 ] || fail "this machine's apt sources name no $SUITE suite to build from"
MIRROR=$(printf '%s\n' "${TARGETS[@]}" | awk -v s="$SUITE" '$2 == s {print $1; exit}')
[ -n "$MIRROR" ] || fail "this machine's apt sources have no $SUITE suite"
SOURCES=$(printf '%s\n' "${TARGETS[@]}" | awk '
  { if (!($1 in suites)) order[n++] = $1
    if (index(" " suites[$1] " ", " " $2 " ") == 0) suites[$1] = suites[$1] (suites[$1] ? " " : "") $2
    if (index(" " comps[$1] " ", " " $3 " ") == 0) comps[$1] = comps[$1] (comps[$1] ? " " : "") $3 }
  END { for (i = 0; i < n; i++) {
          s = order[i]
          printf "%sTypes: deb\nURIs: %s\nSuites: %s\nComponents: %s\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
            (i ? "\n" : ""), s, suites[s], comps[s] } }')
APT_CONF=$(apt-config dump | grep -E '^Acquire::(https?|ftp)::Proxy|^Acquire::Check-(Valid-Until|Date) ' || true)
# debootstrap downloads with wget: give it apt's proxy when apt has one.
HTTP_PROXY_APT=$(apt-config dump | sed -n 's/^Acquire::http::Proxy "\(.*\)";$/\1/p' | head -1)
if [ -n "$HTTP_PROXY_APT" ] && [ "$HTTP_PROXY_APT" != "DIRECT" ] && [ -z "${http_proxy:-}" ]; then
  export http_proxy=$HTTP_PROXY_APT
fi
BASE_KEY=$(printf '%s\n%s\n%s\n%s\n' "$BASE_RECIPE" "$SUITE" "$SOURCES" "$APT_CONF" | sha256sum | cut -c1-16)
TAR_FULL=$CACHE/debian-12-$BASE_KEY.tar
TAR_SLIM=$CACHE/debian-12-slim-$BASE_KEY.tar
echo "mirror $MIRROR; sources:"
printf '%s\n' "$SOURCES" | sed 's/^/  | /'

# Turns a debootstrap tree into a container base: the sources above, the settings of
# Debian's official images (no package caches, no translations, no service starts), no
# host-specific files.
finish_rootfs() {
  local r=$1
  rm -f "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin "$r"/var/log/bootstrap.log
  find "$r/var/lib/apt/lists" -mindepth 1 -maxdepth 1 -type f -delete
  rm -f "$r/etc/apt/sources.list"
  printf '%s\n' "$SOURCES" > "$r/etc/apt/sources.list.d/debian.sources"
  if [ -n "$APT_CONF" ]; then
    printf '// the settings this mirror needs, from the machine the image was made on\n%s\n' \
      "$APT_CONF" > "$r/etc/apt/apt.conf.d/90kg-mirror"
  fi
  printf 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\nAPT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };\nDir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n' \
    > "$r/etc/apt/apt.conf.d/docker-clean"
  printf 'Acquire::Languages "none";\n' > "$r/etc/apt/apt.conf.d/docker-no-languages"
  printf 'Acquire::GzipIndexes "true";\n' > "$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  printf 'Apt::AutoRemove::SuggestsImportant "false";\n' > "$r/etc/apt/apt.conf.d/docker-autoremove-suggests"
  printf '#!/bin/sh\n# no services start inside an image build\nexit 101\n' > "$r/usr/sbin/policy-rc.d"
  chmod 0755 "$r/usr/sbin/policy-rc.d"
  rm -f "$r/etc/resolv.conf"
  : > "$r/etc/hostname"
  [ -f "$r/etc/machine-id" ] && : > "$r/etc/machine-id"
  return 0
}
# The slim variant, as Debian's official slim images: no documentation, manuals or
# translations, now or from packages installed later.
slim_rootfs() {
  local r=$1
  cat > "$r/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# slim: no documentation, manuals or translations (copyright files are kept)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
EOF
  find "$r/usr/share/doc" -mindepth 1 -not -type d -not -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  local d
  for d in groff info linda lintian/overrides locale man; do
    [ -d "$r/usr/share/$d" ] && find "$r/usr/share/$d" -mindepth 1 -delete
  done
  return 0
}
make_tar() {  # ROOTFS TAR
  tar --numeric-owner -C "$1" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
    -cf "$2.tmp" .
  mv "$2.tmp" "$2"
}

if [ "${KG_IMAGE_REBASE:-0}" = "1" ] || [ ! -s "$TAR_FULL" ] || [ ! -s "$TAR_SLIM" ] ||
   [ -n "$(find "$TAR_FULL" -mtime +"$BASE_MAX_DAYS" 2>/dev/null)" ]; then
  ROOTFS=$CACHE/rootfs.tmp
  rm -rf "$ROOTFS" "$ROOTFS-slim"
  echo "debootstrap --variant=minbase $SUITE from $MIRROR (log $LOGS/debootstrap.log) ..."
  if ! debootstrap --variant=minbase --components=main \
      --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
      "$SUITE" "$ROOTFS" "$MIRROR" > "$LOGS/debootstrap.log" 2>&1; then
    tail -n 30 "$LOGS/debootstrap.log" >&2
    fail "debootstrap failed (log $LOGS/debootstrap.log)"
  fi
  finish_rootfs "$ROOTFS"
  cp -a "$ROOTFS" "$ROOTFS-slim"
  slim_rootfs "$ROOTFS-slim"
  rm -f "$CACHE"/debian-12-*.tar
  make_tar "$ROOTFS" "$TAR_FULL"
  make_tar "$ROOTFS-slim" "$TAR_SLIM"
  rm -rf "$ROOTFS" "$ROOTFS-slim"
fi

# Imports a tarball as an image unless the image already holds that very tarball.
import_base() {  # TAR IMAGE DESCRIPTION
  local tar=$1 image=$2 what=$3 stamp have
  stamp="$(basename "$tar")@$(stat -c %Y "$tar")"
  have=$("${B[@]}" inspect --type image --format '{{index .OCIv1.Config.Labels "org.kg.base.tar"}}' \
    "$image" 2>/dev/null || true)
  if [ "$have" = "$stamp" ]; then
    echo "$image: cached ($stamp)"
    return 0
  fi
  BASE_CTR=$("${B[@]}" from --pull=never --name "kg-base-$$" scratch)
  "${B[@]}" add "$BASE_CTR" "$tar" / >/dev/null
  "${B[@]}" config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["bash"]' --label "org.kg.base.tar=$stamp" \
    --label "org.opencontainers.image.description=$what, made locally with debootstrap from $MIRROR" \
    "$BASE_CTR"
  "${B[@]}" commit --quiet --rm "$BASE_CTR" "$image" >/dev/null
  BASE_CTR=""
  echo "$image: imported ($stamp)"
}
import_base "$TAR_FULL" "$BASE_FULL" "Debian 12 (bookworm) minbase"
import_base "$TAR_SLIM" "$BASE_SLIM" "Debian 12 (bookworm) minbase, slim"
# The Dockerfile names them short (FROM debian:12): buildah resolves a short name to an
# image of that name under localhost/ when one is stored, and --pull=never below keeps it
# from trying any registry.

# ---------------------------------------------------------------------------------------
if [ "${KG_IMAGE_SKIP_BUILD:-0}" = "1" ]; then
  "${B[@]}" inspect --type image "$TAG" >/dev/null 2>&1 || fail "no image $TAG to check"
  echo "== image build skipped (KG_IMAGE_SKIP_BUILD=1): checking $TAG as built before"
else
  phase "image build (buildah bud)"
  OLD_ID=$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$TAG" 2>/dev/null || true)
  echo "buildah bud -t $TAG (full log $LOGS/build.log) ..."
  set +e
  "${B[@]}" bud --isolation=chroot --pull=never --layers=false -f Dockerfile -t "$TAG" . 2>&1 |
    tee "$LOGS/build.log" | grep --line-buffered -E '^(\[[0-9]+/[0-9]+\] )?STEP [0-9]+/[0-9]+|^COMMIT|^Successfully'
  BUILD_RC=${PIPESTATUS[0]}
  set -e
  if [ "$BUILD_RC" -ne 0 ]; then
    tail -n 60 "$LOGS/build.log" >&2
    fail "buildah bud exited $BUILD_RC (log $LOGS/build.log)"
  fi
  NEW_ID=$("${B[@]}" inspect --type image --format '{{.FromImageID}}' "$TAG")
  if [ -n "$OLD_ID" ] && [ "$OLD_ID" != "$NEW_ID" ]; then
    "${B[@]}" rmi "$OLD_ID" >/dev/null 2>&1 || true   # the image this build replaced
  fi
fi
# Its size: the layers as stored (uncompressed tars), the base's and the Dockerfile's.
LAYER_BYTES=$("${B[@]}" inspect --type image "$TAG" | jq -r '.Manifest | fromjson | [.layers[].size] | map(tostring) | join(" ")')
IMAGE_SIZE=$(awk -v l="$LAYER_BYTES" 'BEGIN { n = split(l, a, " "); for (i = 1; i <= n; i++) { t += a[i]; s = s (i > 1 ? " + " : "") sprintf("%.1f", a[i] / 1e6) }
  printf "%.1f MB uncompressed (layers %s MB)", t / 1e6, s }')
echo "image $TAG: $IMAGE_SIZE"

# ---------------------------------------------------------------------------------------
phase "run and check kg_server"
RUN_CTR=$("${B[@]}" from --pull=never --name "kg-check-$$" "$TAG")
inrun() { "${B[@]}" run --isolation=chroot "$RUN_CTR" -- "$@"; }

# Every shared library of the two binaries resolves in the runtime image.
LIBS=()
for bin in /usr/local/bin/kg_server /usr/local/bin/kgctl; do
  LDD_OUT=$(inrun ldd "$bin" 2>&1) || fail "ldd $bin in the image: $LDD_OUT"
  if grep -q 'not found' <<<"$LDD_OUT"; then
    grep 'not found' <<<"$LDD_OUT" >&2
    fail "libraries of $bin missing from the runtime image"
  fi
  LIBS+=("$(basename "$bin") $(grep -c '=>' <<<"$LDD_OUT")")
done
echo "ok: ldd resolves every library (${LIBS[0]}, ${LIBS[1]})"

# The image's own command line: ENTRYPOINT then CMD.
mapfile -t ARGV < <("${B[@]}" inspect --type image --format \
  '{{range .OCIv1.Config.Entrypoint}}{{println .}}{{end}}{{range .OCIv1.Config.Cmd}}{{println .}}{{end}}' "$TAG" |
  sed '/^$/d')
[ ${#ARGV[@]} -gt 0 ] || fail "the image has no ENTRYPOINT/CMD"
IMAGE_USER=$("${B[@]}" inspect --type image --format '{{.OCIv1.Config.User}}' "$TAG")
PORT=50051
METRICS_PORT=9464
EXTRA=(--port_file=/tmp/kg-check.ports)  # written once serving: the readiness signal
if [ -n "$(ss -Hltn "( sport = :$PORT or sport = :$METRICS_PORT )")" ]; then
  # Another server on this machine has the image's ports (no network namespace here).
  EXTRA+=(--port=0 --metrics_port=0)
  echo "ports $PORT/$METRICS_PORT are busy on this machine: the server picks free ones"
fi
echo "run (user ${IMAGE_USER:-root}): ${ARGV[*]} ${EXTRA[*]}"
LAUNCH_T0=$(now)
inrun "${ARGV[@]}" "${EXTRA[@]}" > "$LOGS/server.log" 2>&1 &
RUN_PID=$!

# The kg_server process under buildah run, as this machine sees it.
find_server() {
  local frontier=("$RUN_PID") next p c
  while [ ${#frontier[@]} -gt 0 ]; do
    next=()
    for p in "${frontier[@]}"; do
      for c in $(pgrep -P "$p" || true); do
        if [ "$(cat "/proc/$c/comm" 2>/dev/null)" = "kg_server" ]; then
          echo "$c"
          return 0
        fi
        next+=("$c")
      done
    done
    frontier=("${next[@]}")
  done
  return 1
}
PORTS_FILE=""
deadline=$(( $(date +%s) + START_TIMEOUT ))
while :; do
  if ! kill -0 "$RUN_PID" 2>/dev/null; then
    tail -n 40 "$LOGS/server.log" >&2
    fail "kg_server exited before serving (log $LOGS/server.log)"
  fi
  [ -z "$SERVER_PID" ] && SERVER_PID=$(find_server || true)
  if [ -n "$SERVER_PID" ] && [ -s "/proc/$SERVER_PID/root/tmp/kg-check.ports" ]; then
    PORTS_FILE=/proc/$SERVER_PID/root/tmp/kg-check.ports
    break
  fi
  [ "$(date +%s)" -lt "$deadline" ] || fail "kg_server not serving after ${START_TIMEOUT}s (log $LOGS/server.log)"
  sleep 0.5
done
GRPC_ADDR=$(sed -n 's/^grpc=//p' "$PORTS_FILE")
METRICS_ADDR=$(sed -n 's/^metrics=//p' "$PORTS_FILE")
PORT=${GRPC_ADDR##*:}
METRICS_PORT=${METRICS_ADDR##*:}
echo "ok: serving $(awk -v a="$LAUNCH_T0" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}') s after start (grpc $GRPC_ADDR, metrics $METRICS_ADDR; pid $SERVER_PID)"
grep -E 'loaded' "$LOGS/server.log" | tail -n 3 | sed 's/^/  | /' || true

# Runs as the image's user, uid 10001 (real, effective, saved and filesystem ids).
UIDS=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$SERVER_PID/status")
[ "$UIDS" = "10001 10001 10001 10001" ] || fail "kg_server runs with uids $UIDS, not 10001"
echo "ok: kg_server runs as uid 10001 (user $IMAGE_USER)"

# Listens on every address (the ENTRYPOINT's --host=0.0.0.0), gRPC and metrics.
for p in "$PORT" "$METRICS_PORT"; do
  LISTEN=$(ss -Hltn "sport = :$p" | awk '{print $4}' | head -1)
  case "$LISTEN" in
    0.0.0.0:"$p" | \*:"$p" | \[::\]:"$p") ;;
    *) fail "port $p listens on '${LISTEN:-nothing}', not on every address" ;;
  esac
done
echo "ok: listening on all addresses (:$PORT, :$METRICS_PORT)"

# gRPC health, with the image's kgctl.
HEALTH=$(inrun /usr/local/bin/kgctl --addr="127.0.0.1:$PORT" health 2>&1) ||
  fail "kgctl health: $HEALTH"
[ "$HEALTH" = '{"status":"SERVING"}' ] || fail "kgctl health printed: $HEALTH"
echo "ok: health $HEALTH"

# A read served from the loaded sample: PRODUCT:1 as the image's /data/sample.jsonl has it.
SAMPLE_FILE=/proc/$SERVER_PID/root/data/sample.jsonl
WANT=$(grep -m1 -F '{"entity":{"key":{"type":"PRODUCT","id":"1"},' "$SAMPLE_FILE" | jq -r '.entity.name')
if [ -z "$WANT" ] || [ "$WANT" = "null" ]; then fail "the image's sample has no PRODUCT:1"; fi
GOT_JSON=$(inrun /usr/local/bin/kgctl --addr="127.0.0.1:$PORT" get PRODUCT:1 2>&1) ||
  fail "kgctl get PRODUCT:1: $GOT_JSON"
GOT=$(jq -r 'select(.found == true) | .entity.name' <<<"$GOT_JSON" 2>/dev/null || true)
[ "$GOT" = "$WANT" ] || fail "kgctl get PRODUCT:1 printed: $GOT_JSON (want the name \"$WANT\")"
echo "ok: get PRODUCT:1 -> \"$GOT\""

# Prometheus /metrics, with the sample's entities counted.
METRICS=$(curl -fsS --max-time 10 "http://127.0.0.1:$METRICS_PORT/metrics") ||
  fail "GET /metrics on :$METRICS_PORT failed"
ENTITIES=$(awk '/^kg_entities[{ ]/ {s += $NF} END {printf "%d", s}' <<<"$METRICS")
[ "$ENTITIES" -gt 0 ] || fail "/metrics reports no kg_entities"
WANT_ENTITIES=$(grep -c '^{"entity":' "$SAMPLE_FILE")
[ "$ENTITIES" -eq "$WANT_ENTITIES" ] ||
  fail "/metrics counts $ENTITIES entities, the sample has $WANT_ENTITIES"
echo "ok: /metrics answers; kg_entities $ENTITIES = the sample's entities"

# SIGTERM: drains and exits 0.
kill -TERM "$SERVER_PID"
stop_deadline=$(( $(date +%s) + 30 ))
while kill -0 "$RUN_PID" 2>/dev/null && [ "$(date +%s)" -lt "$stop_deadline" ]; do sleep 0.2; done
kill -0 "$RUN_PID" 2>/dev/null && fail "kg_server still running 30 s after SIGTERM"
set +e
wait "$RUN_PID"
SERVER_RC=$?
set -e
RUN_PID=""
SERVER_PID=""
[ "$SERVER_RC" -eq 0 ] || { tail -n 20 "$LOGS/server.log" >&2; fail "kg_server exited $SERVER_RC on SIGTERM"; }
echo "ok: SIGTERM -> exit 0"
"${B[@]}" rm "$RUN_CTR" >/dev/null
RUN_CTR=""
RESULT="PASSED"
