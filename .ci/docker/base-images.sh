#!/usr/bin/env bash
# Build the local base images the docker CI needs, from Debian only (no registry can be pulled):
#   harness-local/debian:bookworm-minbase   debootstrap --variant=minbase + docker import
#   python:3.11-slim (or $PYTHON_IMAGE)     Debian python3.11 + venv + pip on that base
#   $REFERENCE_IMAGE (prom/prometheus:...)  Debian's prometheus package on that base
# The debootstrap tarball is cached in $HARNESS_DOCKER_CACHE (default /var/cache/harness-docker),
# keyed by suite, variant and mirror; docker's layer cache makes repeated builds no-ops.
# Needs DOCKER_HOST pointing at a running engine. Exit 0 ok, 1 failure (one line on stderr).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SUITE="${HARNESS_DEBIAN_SUITE:-bookworm}"
CACHE="${HARNESS_DOCKER_CACHE:-/var/cache/harness-docker}"
BASE_IMAGE="harness-local/debian:${SUITE}-minbase"
PYTHON_IMAGE="${PYTHON_IMAGE:-python:3.11-slim}"
REFERENCE_IMAGE="${REFERENCE_IMAGE:?set REFERENCE_IMAGE (e.g. prom/prometheus:v2.42.0)}"
PROM_VERSION="${REFERENCE_IMAGE##*:v}"

say() { echo "base-images: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
step_start() { STEP_T0=$(date +%s); }
step_done() { say "$1 ($(( $(date +%s) - STEP_T0 ))s)"; }

# The mirror apt already uses (deb822 .sources first, then one-line lists), else deb.debian.org.
debian_mirror() {
  local m
  m=$(grep -hs -A3 '^Types: deb' /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | awk '/^URIs:/ {print $2}' | grep -v -- '-security' | grep '/debian' | head -n1 || true)
  [ -n "$m" ] || m=$(grep -hsE '^deb\s+(\[[^]]*\]\s+)?https?://\S+/debian\s' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | sed -E 's/^deb\s+(\[[^]]*\]\s+)?//' | awk '{print $1}' | head -n1 || true)
  echo "${m:-http://deb.debian.org/debian}"
}

docker info >/dev/null 2>&1 || fail "no Docker engine at ${DOCKER_HOST:-default socket}"

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  MIRROR="$(debian_mirror)"
  KEY="$(printf '%s|minbase|%s' "$SUITE" "$MIRROR" | sha256sum | cut -c1-12)"
  TARBALL="$CACHE/${SUITE}-minbase-$KEY.tar"
  mkdir -p "$CACHE/debs"
  if [ ! -s "$TARBALL" ]; then
    command -v debootstrap >/dev/null 2>&1 || {
      say "installing debootstrap with apt-get"
      { DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1; }; } \
        || fail "apt-get install debootstrap failed"; }
    step_start
    ROOTFS="$(mktemp -d "${TMPDIR:-/tmp}/harness-rootfs.XXXXXX")"
    trap 'rm -rf "$ROOTFS"' EXIT
    debootstrap --variant=minbase --cache-dir="$CACHE/debs" "$SUITE" "$ROOTFS" "$MIRROR" \
      >"$CACHE/debootstrap.log" 2>&1 \
      || fail "debootstrap $SUITE from $MIRROR: $(tail -n1 "$CACHE/debootstrap.log") (log $CACHE/debootstrap.log)"
    # Slim like the official images: no package lists, no .debs, no docs/locales.
    rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/archives/*.deb \
           "$ROOTFS"/usr/share/doc/* "$ROOTFS"/usr/share/locale/* "$ROOTFS"/usr/share/man/*
    tar --numeric-owner -C "$ROOTFS" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
        -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
    rm -rf "$ROOTFS"; trap - EXIT
    step_done "debootstrap $SUITE minbase from $MIRROR -> $TARBALL"
  else
    say "debootstrap cache hit: $TARBALL"
  fi
  step_start
  docker import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' \
    "$TARBALL" "$BASE_IMAGE" >/dev/null || fail "docker import $TARBALL"
  step_done "imported $BASE_IMAGE"
fi

# Build context: the files under base/ plus the host's local CA certificates (see python.Dockerfile).
CONTEXT="$(mktemp -d "${TMPDIR:-/tmp}/harness-base-ctx.XXXXXX")"
trap 'rm -rf "$CONTEXT"' EXIT
cp -r "$HERE/base/." "$CONTEXT/"
mkdir -p "$CONTEXT/extra-ca" && touch "$CONTEXT/extra-ca/.none"
find /usr/local/share/ca-certificates -maxdepth 1 -name '*.crt' -exec cp {} "$CONTEXT/extra-ca/" \; \
  2>/dev/null || true
# A fixed mtime keeps docker's layer cache valid across runs (COPY hashes content and metadata).
find "$CONTEXT" -exec touch -h -d @0 {} +

build() {  # build <tag> <dockerfile> [build-args...]
  local tag="$1" file="$2"; shift 2
  step_start
  # --network host: the engine runs without NAT (--ip-masq=false), so apt needs the host network.
  docker build -q --network host --build-arg "BASE=$BASE_IMAGE" "$@" -t "$tag" \
    -f "$CONTEXT/$file" "$CONTEXT" >"$CACHE/build-${file%.Dockerfile}.log" 2>&1 \
    || fail "docker build $tag: $(tail -n3 "$CACHE/build-${file%.Dockerfile}.log" | tr '\n' ' ')"
  step_done "built $tag"
}
build "$PYTHON_IMAGE" python.Dockerfile
build "$REFERENCE_IMAGE" prometheus.Dockerfile --build-arg "PROMETHEUS_VERSION=$PROM_VERSION"
