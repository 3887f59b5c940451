#!/usr/bin/env bash
# Start a private Docker engine for CI (its own data root, exec root, pidfile and unix socket), so
# it never touches a system engine. Prints the DOCKER_HOST to use on stdout (last line) and exits:
#   0  engine answering on the socket
#   3  dockerd not installed and apt-get could not install docker.io
#   4  not root (dockerd needs root here; rootless is out of scope)
#   5  dockerd exited before answering (reason: last log line)
#   6  dockerd did not answer within the deadline
# Env: HARNESS_DOCKER_DIR (state dir, default /tmp/harness-docker), HARNESS_DOCKER_START_TIMEOUT
# (seconds, default 60). Only loopback: no TCP listener, no iptables, no NAT.
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

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
   && docker info >/dev/null 2>&1; then
  say "engine already running (pid $(cat "$PIDFILE"))"
  echo "$DOCKER_HOST"; exit 0
fi
rm -f "$PIDFILE" "$SOCK"

# --iptables=false/--ip-masq=false: no host firewall changes; containers reach each other and the
# host through published loopback ports only. --bridge=none would break port publishing, so the
# default bridge stays (docker0 is created without NAT rules).
setsid dockerd \
  --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$PIDFILE" \
  --host "$DOCKER_HOST" --iptables=false --ip-masq=false \
  --log-level warn >"$LOG" 2>&1 </dev/null &
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
