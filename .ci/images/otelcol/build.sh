#!/usr/bin/env bash
# Build the harness's OpenTelemetry Collector (otelcol-contrib: the components
# manifests/otel-collector/config.yaml uses) from Go modules with the collector builder (ocb),
# into a cache outside the repo; optionally package it as an image (Dockerfile beside this file).
#
# Usage: build.sh [--version X.Y.Z | --from-versions-yaml] [--image TAG]
#   --version X.Y.Z        contrib release = official image tag (default: $OTELCOL_VERSION, else
#                          the tag of images.otel-collector in manifests/versions.yaml)
#   --from-versions-yaml   the pin, even when $OTELCOL_VERSION is set
#   --image TAG            then `docker build` the image TAG (needs a reachable engine: DOCKER_HOST)
# Prints the absolute path of the binary on stdout (its only output there); progress on stderr.
# Exit: 0 ok; 1 build failed; 2 bad usage or pin; 3 --image but no Docker engine answers.
#
# One release drives everything: the contrib modules and the dist version are X.Y.Z; core modules
# and ocb are X.Y.Z too when core published that version, else X.Y.0 (core v0.165.0 goes with
# contrib v0.165.1); OTELCOL_CORE_VERSION overrides. ocb's default confmap providers and telemetry
# module follow ocb's release. ocb builds with CGO_ENABLED=0 and -trimpath (and -ldflags "-s -w");
# this script checks both in the binary's build info, so the binary is static.
#
# Cache ($OTELCOL_CACHE_DIR, default /var/cache/mytsdb-harness/otelcol, or
# ${XDG_CACHE_HOME:-~/.cache}/mytsdb-harness/otelcol where /var/cache is not writable):
#   ocb/vCORE/builder          ocb, installed once per core version (go install)
#   go/mod, go/build           GOMODCACHE and GOCACHE of these builds (override: OTELCOL_GOMODCACHE,
#                              OTELCOL_GOCACHE); the module cache is made writable (-modcacherw),
#                              so `rm -rf` of the cache dir works
#   dist/X.Y.Z-HASH/           otelcol-contrib + the rendered builder-config.yaml, go.mod, go.sum,
#                              BUILD_INFO; HASH covers builder-config.yaml, the Go version and
#                              OTELCOL_CORE_VERSION. When it exists the run does no network and no
#                              Go work at all (a cache hit). Concurrent runs serialise on a lock.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
T0=$(date +%s)

say() { echo "otelcol-build: $*" >&2; }
die() { local rc=$1; shift; say "$*"; exit "$rc"; }
elapsed() { echo "$(( $(date +%s) - T0 ))s"; }

version="" image="" from_pins=0
while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || die 2 "--version needs a value"; version="$2"; shift 2 ;;
    --version=*) version="${1#*=}"; shift ;;
    --from-versions-yaml) from_pins=1; shift ;;
    --image) [ $# -ge 2 ] || die 2 "--image needs a tag"; image="$2"; shift 2 ;;
    --image=*) image="${1#*=}"; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die 2 "unknown argument: $1 (see --help)" ;;
  esac
done

pinned_version() {  # the tag of images.otel-collector in manifests/versions.yaml (plain sed)
  local ref
  ref="$(sed -n 's/^  otel-collector:[[:space:]]*//p' "$ROOT/manifests/versions.yaml" |
         sed 's/[[:space:]]#.*$//; s/[[:space:]]*$//; s/^["'\'']//; s/["'\'']$//' | head -n1)"
  [ -n "$ref" ] || die 2 "no images.otel-collector pin in $ROOT/manifests/versions.yaml"
  ref="${ref%%@*}"  # drop a digest
  case "$ref" in *:*) echo "${ref##*:}" ;; *) die 2 "images.otel-collector pin '$ref' has no tag" ;; esac
}

if [ "$from_pins" = 1 ]; then
  [ -z "$version" ] || die 2 "give --version or --from-versions-yaml, not both"
  version="$(pinned_version)"
fi
version="${version:-${OTELCOL_VERSION:-$(pinned_version)}}"
version="${version#v}"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die 2 "version '$version' is not X.Y.Z"
core_override="${OTELCOL_CORE_VERSION:-}"
core_override="${core_override#v}"
[ -z "$core_override" ] || [[ "$core_override" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  die 2 "OTELCOL_CORE_VERSION '$core_override' is not X.Y.Z"

command -v go >/dev/null 2>&1 || die 1 "go is not on PATH (needs the Go toolchain the modules ask for)"

CACHE="${OTELCOL_CACHE_DIR:-/var/cache/mytsdb-harness/otelcol}"
if [ -z "${OTELCOL_CACHE_DIR:-}" ] && ! mkdir -p "$CACHE" 2>/dev/null; then
  CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/mytsdb-harness/otelcol"
fi
mkdir -p "$CACHE/dist" || die 1 "cannot create cache dir $CACHE"
export GOMODCACHE="${OTELCOL_GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${OTELCOL_GOCACHE:-$CACHE/go/build}"
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw"
export CGO_ENABLED=0

goversion="$(go env GOVERSION)"
key="$version-$( { printf '%s\n' "core=$core_override" "$goversion"; cat "$HERE/builder-config.yaml"; } |
                  sha256sum | cut -c1-12)"
dist="$CACHE/dist/$key"
bin="$dist/otelcol-contrib"

build() {
  # Serialise with any other run building the same key; re-check after getting the lock.
  exec 9>"$CACHE/dist/$key.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if [ -x "$bin" ]; then say "built meanwhile by another run: $bin"; return 0; fi
  rm -rf "$CACHE/dist/.tmp-$key-"*  # left by an interrupted run (we hold the lock)

  local core ocb work t
  if [ -n "$core_override" ]; then
    core="$core_override"
  elif (cd "$CACHE" && go list -m -json "go.opentelemetry.io/collector/otelcol@v$version") >/dev/null 2>&1; then
    core="$version"
  else
    core="${version%.*}.0"
  fi
  say "building otelcol-contrib $version (core v$core, $goversion) into $dist"

  ocb="$CACHE/ocb/v$core/builder"
  if [ ! -x "$ocb" ]; then
    t=$(date +%s)
    say "installing ocb: go install go.opentelemetry.io/collector/cmd/builder@v$core"
    rm -rf "$CACHE/ocb/v$core.tmp"
    GOBIN="$CACHE/ocb/v$core.tmp" go install "go.opentelemetry.io/collector/cmd/builder@v$core" >&2 ||
      die 1 "go install of ocb v$core failed"
    rm -rf "$CACHE/ocb/v$core" && mv "$CACHE/ocb/v$core.tmp" "$CACHE/ocb/v$core"
    say "ocb v$core installed in $(( $(date +%s) - t ))s"
  else
    say "ocb v$core: cached ($ocb)"
  fi

  work="$CACHE/dist/.tmp-$key-$$"
  mkdir -p "$work"
  sed -e "s/@CONTRIB_VERSION@/$version/g" -e "s/@CORE_VERSION@/$core/g" \
    "$HERE/builder-config.yaml" >"$work/builder-config.yaml"
  t=$(date +%s)
  say "running ocb (module download + compile; minutes when cold, log: $work/ocb.log)"
  # --skip-strict-versioning=false: fail if module resolution moved any component off the
  # requested version (the manifest's release is what gets built, or nothing).
  if ! (cd "$work" && "$ocb" --config builder-config.yaml --skip-compilation=false \
          --skip-strict-versioning=false) >"$work/ocb.log" 2>&1; then
    tail -n 30 "$work/ocb.log" >&2
    die 1 "ocb failed (full log: $work/ocb.log)"
  fi
  say "ocb done in $(( $(date +%s) - t ))s"

  local built="$work/_build/otelcol-contrib" info
  # (first line names the binary by its final name, not this scratch path)
  info="$(go version -m "$built" | sed '1s|^[^:]*:|otelcol-contrib:|')" ||
    die 1 "no Go build info in $built"
  grep -q $'\tbuild\tCGO_ENABLED=0$' <<<"$info" || die 1 "$built was not built with CGO_ENABLED=0"
  grep -q $'\tbuild\t-trimpath=true$' <<<"$info" || die 1 "$built was not built with -trimpath"
  "$built" --version >&2 || die 1 "$built does not run"

  mv "$built" "$work/otelcol-contrib"
  cp "$work/_build/go.mod" "$work/_build/go.sum" "$work/"
  rm -rf "$work/_build"
  {
    echo "version=$version"
    echo "core=$core"
    echo "ocb=$ocb"
    echo "go=$goversion"
    echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "seconds=$(( $(date +%s) - T0 ))"
    echo "$info"
  } >"$work/BUILD_INFO"
  mv "$work" "$dist"
}

if [ -x "$bin" ]; then
  say "cache hit: $bin ($(elapsed))"
else
  build
  say "built $bin ($(du -h "$bin" | cut -f1)) in $(elapsed)"
fi

if [ -n "$image" ]; then
  command -v docker >/dev/null 2>&1 || die 3 "--image $image: no docker CLI on PATH"
  docker info >/dev/null 2>&1 ||
    die 3 "--image $image: no Docker engine answers (DOCKER_HOST=${DOCKER_HOST:-unset}); start one first (.ci/docker/start-engine.sh)"
  ctx="$(mktemp -d)"
  trap 'rm -rf "$ctx"' EXIT
  cp "$bin" "$ctx/otelcol-contrib" && chmod 0755 "$ctx/otelcol-contrib"
  cp "$HERE/default-config.yaml" "$ctx/config.yaml" && chmod 0644 "$ctx/config.yaml"
  t=$(date +%s)
  docker build -q -f "$HERE/Dockerfile" --build-arg "OTELCOL_VERSION=$version" -t "$image" "$ctx" >&2 ||
    die 1 "docker build of $image failed"
  say "image $image built in $(( $(date +%s) - t ))s"
fi

echo "$bin"
