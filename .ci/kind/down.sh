#!/usr/bin/env bash
# Undo up.sh: delete every kind cluster on the private engine, remove kind's network, stop the
# engine, and check that nothing is left (no container, no dockerd/containerd/shim of ours, no
# mount under the engine's directory). Images and the Go caches stay (they are the cache).
# Exit 0 when nothing is left, 1 otherwise (one line naming what).
set -euo pipefail
# shellcheck source=.ci/kind/lib.sh
source "$(dirname "$0")/lib.sh"

DOCKER_HOST="$(engine_host)"
export DOCKER_HOST
KIND="$CACHE/bin/current/kind"

if docker info >/dev/null 2>&1; then
  if [ -x "$KIND" ]; then
    for c in $("$KIND" get clusters 2>/dev/null); do
      say "deleting kind cluster $c"
      "$KIND" delete cluster --name "$c" >/dev/null 2>&1 || say "warning: kind delete cluster --name $c failed"
    done
  fi
  # Anything kind labelled that its delete missed (e.g. a half-created node).
  left="$(docker ps -aq --filter label=io.x-k8s.kind.cluster)"
  [ -z "$left" ] || docker rm -f -v $left >/dev/null 2>&1 || true
  docker network rm kind >/dev/null 2>&1 || true
  docker volume prune -f >/dev/null 2>&1 || true   # the nodes' anonymous /var volumes
fi
"$ROOT/.ci/docker/stop-engine.sh"

# Nothing of ours may survive: processes whose command line names the engine's directory (dockerd,
# its containerd, shims) and mounts below it.
procs="$(ps -eo pid=,args= | grep -F -- "$HARNESS_DOCKER_DIR" | grep -v -e grep -e "$$" || true)"
mounts="$(awk -v d="$HARNESS_DOCKER_DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts)"
if [ -n "$procs" ] || [ -n "$mounts" ]; then
  say "FAILED: left behind: processes [$(echo "$procs" | awk '{print $1}' | xargs)] mounts [$(echo $mounts)]"
  exit 1
fi
say "no cluster, engine, process or mount of ours left"
