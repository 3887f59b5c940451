#!/usr/bin/env bash
# Stop the private Docker engine started by start-engine.sh (SIGTERM, wait with a deadline, then
# SIGKILL). Keeps the data root so the next run reuses images and build cache; pass --purge to
# delete it too. Exit 0 when no engine of ours is running afterwards.
set -u
DIR="${HARNESS_DOCKER_DIR:-/tmp/harness-docker}"
PIDFILE="$DIR/dockerd.pid"
DEADLINE_S="${HARNESS_DOCKER_STOP_TIMEOUT:-30}"
say() { echo "stop-engine: $*" >&2; }

if [ -f "$PIDFILE" ] && pid="$(cat "$PIDFILE")" && kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  end=$(( $(date +%s) + DEADLINE_S ))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$(date +%s)" -ge "$end" ]; then
      say "dockerd $pid still running after ${DEADLINE_S}s: SIGKILL"; kill -KILL "$pid"; break
    fi
    sleep 0.2  # poll interval of the deadline loop above
  done
  say "engine stopped (pid $pid)"
else
  say "no engine running under $DIR"
fi
rm -f "$PIDFILE" "$DIR/docker.sock"
# dockerd leaves its default network namespace (and, after a SIGKILL, overlay mounts) mounted
# under the exec/data roots; unmount them deepest first so nothing stays busy.
awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts 2>/dev/null | sort -r \
  | while read -r mnt; do umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null; done
if [ "${1:-}" = "--purge" ]; then
  rm -rf "$DIR" && say "purged $DIR"
fi
exit 0
