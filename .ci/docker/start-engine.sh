#!/usr/bin/env bash
# Start a private Docker engine for CI (its own data root, exec root, pidfile and unix socket), so
# it never touches a system engine. Prints the DOCKER_HOST to use on stdout (last line) and exits:
#   0  engine answering on the socket
#   3  dockerd not installed and apt-get could not install docker.io
#   4  not root (dockerd needs root here; rootless is out of scope)
#   5  dockerd exited before answering (reason: last log line)
#   6  dockerd did not answer within the deadline
#   7  an engine with other options already runs under the state dir (stop-engine.sh first)
# Env: HARNESS_DOCKER_DIR (state dir, default /tmp/harness-docker), HARNESS_DOCKER_START_TIMEOUT
# (seconds, default 60). Only loopback: no TCP listener, no iptables, no NAT (kind works so too:
# its ports are published on 127.0.0.1 by the userland proxy, and the CI node image restores the
# embedded DNS redirect of its network itself, see .ci/kind/node).
# Where the capability bounding set lacks CAP_SYS_RESOURCE (Firecracker VMs), Docker 20.10 cannot
# start any --privileged container; the engine then gets .ci/kind/runc-capfilter (built here with
# Go, cached in the state dir) as its default runtime, which drops the capabilities the host does
# not have from each container's spec before it execs runc. Detected, never assumed.
set -u
DIR="${HARNESS_DOCKER_DIR:-/tmp/harness-docker}"
DEADLINE_S="${HARNESS_DOCKER_START_TIMEOUT:-60}"
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/dockerd.pid"
LOG="$DIR/dockerd.log"

say() { echo "start-engine: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  say "cannot start a Docker engine: not root (uid $(id -u))"; exit 4
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "dockerd missing: installing Debian docker.io with apt-get"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io \
         >"$DIR.apt.log" 2>&1 || { apt-get update -q >>"$DIR.apt.log" 2>&1 &&
         DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends docker.io \
         >>"$DIR.apt.log" 2>&1; }; }; then
    say "cannot start a Docker engine: apt-get install docker.io failed ($(tail -n1 "$DIR.apt.log"))"
    exit 3
  fi
  command -v dockerd >/dev/null 2>&1 || {
    say "cannot start a Docker engine: docker.io installed but dockerd is not on PATH ($PATH)"; exit 3; }
fi

mkdir -p "$DIR/data" "$DIR/exec"
export DOCKER_HOST="unix://$SOCK"

# --iptables=false/--ip-masq=false: no host firewall changes; containers reach each other and the
# host through published loopback ports only. --bridge=none would break port publishing, so the
# default bridge stays (docker0 is created without NAT rules).
ARGS=(--data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$PIDFILE" --host "$DOCKER_HOST"
      --iptables=false --ip-masq=false)

# Bit 24 of CapBnd is CAP_SYS_RESOURCE, which Docker 20.10 requests for every privileged container.
capbnd="$(awk '/^CapBnd:/ {print $2}' /proc/self/status)"
if [ -n "$capbnd" ] && [ $(( 0x$capbnd >> 24 & 1 )) = 0 ]; then
  WRAPPER_SRC="$(cd "$(dirname "$0")/../kind/runc-capfilter" 2>/dev/null && pwd || true)"
  if [ -z "$WRAPPER_SRC" ] || ! command -v go >/dev/null 2>&1; then
    say "warning: CAP_SYS_RESOURCE is outside the bounding set and the runc wrapper cannot be built" \
        "(needs go and .ci/kind/runc-capfilter): privileged containers will fail"
  else
    key="$(cat "$WRAPPER_SRC"/go.mod "$WRAPPER_SRC"/*.go | sha256sum | cut -c1-12)"
    WRAPPER="$DIR/bin/runc-capfilter-$key"
    if [ ! -x "$WRAPPER" ]; then
      mkdir -p "$DIR/bin"
      if ! (cd "$WRAPPER_SRC" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod \
            go build -trimpath -ldflags '-s -w' -o "$WRAPPER.tmp" . ) >"$DIR/bin/build.log" 2>&1; then
        say "cannot start a Docker engine: building the runc wrapper failed: $(tail -n1 "$DIR/bin/build.log")" \
            "(log $DIR/bin/build.log)"
        exit 5
      fi
      mv "$WRAPPER.tmp" "$WRAPPER"
    fi
    say "CapBnd $capbnd lacks CAP_SYS_RESOURCE: default runtime is the runc wrapper $WRAPPER"
    ARGS+=(--add-runtime "runc-capfilter=$WRAPPER" --default-runtime runc-capfilter)
  fi
fi

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
   && docker info >/dev/null 2>&1; then
  if [ "$(cat "$DIR/dockerd.args" 2>/dev/null)" != "${ARGS[*]}" ]; then
    say "an engine with other options already runs under $DIR (pid $(cat "$PIDFILE")):" \
        "run $(dirname "$0")/stop-engine.sh first"
    exit 7
  fi
  say "engine already running (pid $(cat "$PIDFILE"))"
  echo "$DOCKER_HOST"; exit 0
fi
rm -f "$PIDFILE" "$SOCK"
echo "${ARGS[*]}" >"$DIR/dockerd.args"

setsid dockerd "${ARGS[@]}" --log-level warn >"$LOG" 2>&1 </dev/null &
DPID=$!
end=$(( $(date +%s) + DEADLINE_S ))
while :; do
  if docker info >/dev/null 2>&1; then
    say "engine up (pid $DPID, socket $SOCK) in $(( DEADLINE_S - (end - $(date +%s)) ))s"
    echo "$DOCKER_HOST"; exit 0
  fi
  if ! kill -0 "$DPID" 2>/dev/null; then
    wait "$DPID"; code=$?
    last="$(grep -v '^\s*$' "$LOG" | tail -n1)"
    say "cannot start a Docker engine: dockerd exited with code $code: ${last:-(no output)} (log $LOG)"
    exit 5
  fi
  if [ "$(date +%s)" -ge "$end" ]; then
    say "cannot start a Docker engine: no answer on $SOCK within ${DEADLINE_S}s: $(tail -n1 "$LOG")"
    kill "$DPID" 2>/dev/null
    exit 6
  fi
  sleep 0.5  # poll interval of the deadline loop above, not synchronisation
done
