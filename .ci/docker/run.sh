#!/usr/bin/env bash
# The Docker part of CI, end to end, on a private engine:
#   engine (or a one-line skip, exit 0) -> local base images from Debian -> this repo's seeder and
#   sample-app images (+ --dry-run / --self-test) -> tests/promql on the docker stack with the
#   local Prometheus image as target and reference -> no labelled container/volume left -> engine
#   stopped. Prints the seconds of every step. Exit 0 = passed or skipped, 1 = a step failed.
# Env: PYTHON (interpreter with the harness installed; default .venv/bin/python, else python3),
# HARNESS_DOCKER_DIR, HARNESS_DOCKER_CACHE, HARNESS_DOCKER_KEEP_ENGINE=1 (leave the engine running).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# The repo's venv (made by ./run.sh test in .ci/run) unless PYTHON names another interpreter.
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
LABEL_KEY="io.mytsdb-harness.stack"
T_ALL=$(date +%s)
say() { echo "docker-ci: $*" >&2; }
step() {  # step <name> <command...>: run, time, stop CI on failure
  local name="$1" t0 rc; shift
  t0=$(date +%s)
  "$@"; rc=$?
  say "step '$name' $( [ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)" ) in $(( $(date +%s) - t0 ))s"
  if [ $rc != 0 ]; then FAILED="$name"; exit 1; fi
}
pinned() {  # pinned <image name>: from manifests/versions.yaml (the one place for pins)
  (cd "$ROOT" && "$PYTHON" -c 'import sys; from fixtures.common.pins import PINS; print(PINS.image(sys.argv[1]))' "$1")
}

t0=$(date +%s)
if ! DOCKER_HOST="$("$HERE/start-engine.sh")"; then
  say "SKIPPED: no Docker engine can start on this machine (reason above); the rest of CI is unaffected"
  exit 0
fi
export DOCKER_HOST
say "step 'engine' ok in $(( $(date +%s) - t0 ))s ($DOCKER_HOST)"
FAILED=""
cleanup() {
  local rc=$?
  leftovers="$(docker ps -aq --filter "label=$LABEL_KEY" 2>/dev/null)"
  if [ -n "$leftovers" ]; then
    say "removing leftover containers: $(echo $leftovers)"; docker rm -f -v $leftovers >/dev/null 2>&1
  fi
  docker image prune -f >/dev/null 2>&1  # superseded builds only; tagged images stay as cache
  [ "${HARNESS_DOCKER_KEEP_ENGINE:-0}" = 1 ] || "$HERE/stop-engine.sh"
  if [ -n "$FAILED" ]; then say "FAILED at step '$FAILED' after $(( $(date +%s) - T_ALL ))s"
  else say "passed in $(( $(date +%s) - T_ALL ))s"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

REFERENCE_IMAGE="$(pinned prometheus)" || { FAILED=pins; exit 1; }
PYTHON_IMAGE="$(pinned python-base)" || { FAILED=pins; exit 1; }
SEEDER_IMAGE="$(pinned seeder)" || { FAILED=pins; exit 1; }
SAMPLE_IMAGE="$(pinned sample-app)" || { FAILED=pins; exit 1; }
export REFERENCE_IMAGE PYTHON_IMAGE

step "base images" "$HERE/base-images.sh"

build_repo_image() {  # build_repo_image <tag> <Dockerfile>; context = repo root
  local log="${HARNESS_DOCKER_CACHE:-/var/cache/harness-docker}/build-$(basename "$(dirname "$2")").log"
  docker build -q --network host -f "$ROOT/$2" -t "$1" "$ROOT" >"$log" 2>&1 \
    || { say "docker build $1 failed; last lines of $log:"; tail -n 20 "$log" >&2; return 1; }
}
step "build seeder image" build_repo_image "$SEEDER_IMAGE" manifests/images/seeder/Dockerfile
step "build sample-app image" build_repo_image "$SAMPLE_IMAGE" manifests/sample-app/Dockerfile
# --network none: both checks must work offline; labelled so the leftover check covers them.
step "seeder --dry-run" docker run --rm --network none --label "$LABEL_KEY=ci" "$SEEDER_IMAGE" \
  --preset tiny --dry-run
step "sample-app --self-test" docker run --rm --network none --label "$LABEL_KEY=ci" "$SAMPLE_IMAGE" \
  --self-test

cd "$ROOT" || exit 1
# No Ryuk (its image cannot be pulled; the stack removes its containers by label itself).
export TESTCONTAINERS_RYUK_DISABLED=true TESTCONTAINERS_CONNECTION_MODE=docker_host
step "docker stack engine tests" "$PYTHON" -m pytest -q -p no:cacheprovider \
  tests/unit/stacks/test_docker_engine.py
# Self-consistency run: the same Prometheus image as target and reference proves the plumbing
# (ports, waits, seeding, cleanup); MyTSDB itself runs where an image of it exists.
step "tests/promql on the docker stack" \
  "$PYTHON" -m pytest -q -p no:cacheprovider tests/promql --stack docker \
  --target-image "$REFERENCE_IMAGE" --reference-image "$REFERENCE_IMAGE" --seed-preset tiny --report-dir report/docker-stack

check_no_leftovers() {
  local c v
  c="$(docker ps -aq --filter "label=$LABEL_KEY")"; v="$(docker volume ls -q --filter "label=$LABEL_KEY")"
  if [ -n "$c$v" ]; then say "left behind: containers [$(echo $c)] volumes [$(echo $v)]"; return 1; fi
}
step "no container left behind" check_no_leftovers
