#!/usr/bin/env bash
# The kind part of CI, end to end: up.sh (engine + offline build of kind, Kubernetes and the node
# image, cached outside the repo) -> smoke.sh (a real cluster: node Ready, pods, kind load,
# NodePort on 127.0.0.1) -> e2e.sh (the main job on a real cluster with the MyTSDB stand-in, its
# rerun command, a failing readiness check's bundle) -> down.sh (nothing left running). Prints the seconds of every step
# (also appended to $HARNESS_KIND_CACHE/logs/timings.tsv).
# Exit 0 = passed, or skipped because no Docker engine can start here (one SKIPPED line);
# 1 = a step failed (the line above names it and its log).
set -euo pipefail
# shellcheck source=.ci/kind/lib.sh
source "$(dirname "$0")/lib.sh"

T0=$(date +%s)
finish() {
  local rc=$?
  timed "down" "$KIND_CI_DIR/down.sh" || rc=1
  if [ "$rc" = 0 ]; then say "passed in $(( $(date +%s) - T0 ))s"
  else say "FAILED after $(( $(date +%s) - T0 ))s"; fi
  exit "$rc"
}

rc=0
"$KIND_CI_DIR/up.sh" >/dev/null || rc=$?
if [ "$rc" = 2 ]; then
  say "SKIPPED: no Docker engine can start on this machine (reason above); the rest of CI is unaffected"
  exit 0
fi
trap finish EXIT
trap 'exit 130' INT TERM
[ "$rc" = 0 ] || exit 1
timed "smoke" "$KIND_CI_DIR/smoke.sh" kind-smoke
timed "main job" "$KIND_CI_DIR/e2e.sh"
