# Shared by the .ci/kind scripts (sourced, not run). Paths, pins, logging and timing.
#
# Everything built lives OUTSIDE the repo, so a fresh clone on the same machine (CI) starts warm:
#   $HARNESS_KIND_CACHE (default /var/cache/mytsdb-harness)
#     go/mod, go/build      Go module and build caches
#     src/                  wrapper modules (Kubernetes cannot be `go install`ed)
#     bin/<name>-<version>  built binaries, one directory per component and version
#     rootfs/               debootstrap tarballs and their .deb cache
#     docker/               the private Docker engine (data root: images survive a stopped engine)
#     out/                  kind.env, the CI kind config, the preloaded containerd store
#     logs/                 build logs, timings.tsv
# shellcheck shell=bash

KIND_CI_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$KIND_CI_DIR/../.." && pwd)"
VERSIONS="$ROOT/manifests/versions.yaml"
CACHE="${HARNESS_KIND_CACHE:-/var/cache/mytsdb-harness}"
export HARNESS_DOCKER_DIR="${HARNESS_DOCKER_DIR:-$CACHE/docker}"
LOGS="$CACHE/logs"
OUT="$CACHE/out"
mkdir -p "$LOGS" "$OUT" "$CACHE/bin" "$CACHE/src"

# One Go environment for every build: shared module/build caches, no toolchain download, the
# module graph may be completed from the proxy (wrapper modules carry no go.sum in the repo).
export GOMODCACHE="$CACHE/go/mod" GOCACHE="$CACHE/go/build" GOTOOLCHAIN=local GOFLAGS=-mod=mod

SCRIPT_NAME="$(basename "$0" .sh)"
say() { echo "kind-ci[$SCRIPT_NAME]: $*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

# pin KEY: the value of KEY in the tools: section of manifests/versions.yaml (the one place for
# pins). A flat "  key: value" reader, so it needs neither PyYAML nor the venv.
pin() {
  local v
  v="$(awk -v k="$1" '
    /^[^[:space:]#]/ { in_tools = ($0 ~ /^tools:/) ; next }
    in_tools && $1 == k":" { $1 = ""; sub(/^ +/, ""); sub(/ +#.*$/, ""); gsub(/"/, ""); print; exit }
  ' "$VERSIONS")"
  [ -n "$v" ] || fail "manifests/versions.yaml pins no tools.$1"
  echo "$v"
}

# timed NAME CMD...: run a step, log its seconds to stderr and to $LOGS/timings.tsv
# (date, step, seconds, rc), return its exit code.
timed() {
  local name="$1" t0 rc=0; shift
  t0=$(date +%s)
  "$@" || rc=$?
  local dt=$(( $(date +%s) - t0 ))
  printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$name" "$dt" "$rc" >>"$LOGS/timings.tsv"
  if [ "$rc" = 0 ]; then say "step '$name' ok in ${dt}s"; else say "step '$name' FAILED (exit $rc) after ${dt}s"; fi
  return "$rc"
}

# apt_install PKG...: install Debian packages that are missing (one apt-get update when needed).
apt_install() {
  local missing=() p
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ "${#missing[@]}" = 0 ] && return 0
  say "apt-get install ${missing[*]}"
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
      >"$LOGS/apt.log" 2>&1 \
    || { apt-get update -q >>"$LOGS/apt.log" 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
              >>"$LOGS/apt.log" 2>&1; }; } \
    || fail "apt-get install ${missing[*]}: $(tail -n1 "$LOGS/apt.log") (log $LOGS/apt.log)"
}

# The private engine's socket (start-engine.sh prints the same).
engine_host() { echo "unix://$HARNESS_DOCKER_DIR/docker.sock"; }
