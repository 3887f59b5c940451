#!/usr/bin/env bash
# The main job on a real kind cluster, as CI runs it (after up.sh and smoke.sh):
#   1. the images the manifests use, built locally under their pinned tags (nothing is pulled):
#      python:3.11-slim and prom/prometheus (.ci/docker/base-images.sh), the OTel Collector
#      (.ci/images/otelcol/build.sh); the harness builds the seeder, the sample app and the
#      MyTSDB stand-in itself;
#   2. ./run.sh e2e with the stand-in, preset tiny, no Grafana (it cannot be had here), the CI
#      node image and kind config, --keep-cluster; junit in report/junit-e2e-kind.xml; every
#      cluster test but Grafana's must run and pass;
#   3. the rerun command that run printed, once, against the kept cluster (--stack endpoints);
#   4. a readiness check that fails on purpose must leave a diagnostics bundle holding pod logs,
#      events and describe output;
#   5. the cluster is deleted (down.sh then checks that nothing of ours is left).
# Needs $HARNESS_KIND_CACHE/out/kind.env (up.sh). Exit 0 passed, 1 a step failed (named above).
set -uo pipefail
# shellcheck source=.ci/kind/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1
ENV_FILE="$OUT/kind.env"
[ -f "$ENV_FILE" ] || fail "no $ENV_FILE: run .ci/kind/up.sh first"
# shellcheck disable=SC1090
source "$ENV_FILE"
export DOCKER_HOST
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || fail "no $PY: run ./run.sh test first (it creates the venv)"
CLUSTER=mytsdb-harness
ART="$ROOT/artifacts/e2e-kind"
LOG="$LOGS/e2e-main.log"
rm -rf "$ART"; mkdir -p "$ART" "$ROOT/report"

image_pin() {  # image_pin NAME: the pinned reference in manifests/versions.yaml
  "$PY" -c 'import sys; from fixtures.common.pins import PINS; print(PINS.image(sys.argv[1]))' "$1"
}
build_images() {
  REFERENCE_IMAGE="$(image_pin prometheus)" PYTHON_IMAGE="$(image_pin python-base)" \
    "$ROOT/.ci/docker/base-images.sh" || return 1
  "$ROOT/.ci/images/otelcol/build.sh" --image "$(image_pin otel-collector)" >/dev/null
}
timed "images (bases, collector)" build_images || fail "building the images the manifests use"

KIND_ARGS=(--kind-bin "$KIND_BIN" --kubectl-bin "$KUBECTL_BIN" --kind-node-image "$KIND_NODE_IMAGE"
           --kind-config "$KIND_CONFIG" --cluster-name "$CLUSTER")
main_job() {
  ./run.sh e2e -p no:cacheprovider -rfEs --mytsdb-standin --without grafana --seed-preset tiny \
    --docker-build-network host \
    "${KIND_ARGS[@]}" --keep-cluster --artifacts "$ART" --junitxml report/junit-e2e-kind.xml 2>&1 | tee "$LOG"
  return "${PIPESTATUS[0]}"
}
delete_cluster() { "$KIND_BIN" delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true; }
trap delete_cluster EXIT
timed "main job (./run.sh e2e on kind)" main_job || fail "the main job failed (log $LOG, artifacts $ART)"

# Every cluster test ran: the only skips allowed are Grafana's (it is not deployed here).
"$PY" - report/junit-e2e-kind.xml <<'PY' || fail "the main job skipped cluster tests (see above)"
import sys
import xml.etree.ElementTree as ET
cases = list(ET.parse(sys.argv[1]).iter("testcase"))
skipped = [c for c in cases if c.find("skipped") is not None]
wrong = [f"{c.get('classname')}.{c.get('name')}: {c.find('skipped').get('message')}" for c in skipped
         if not c.get("classname", "").endswith("test_grafana")]
ran = len(cases) - len(skipped)
print(f"e2e junit: {len(cases)} cases, {ran} ran, {len(skipped)} skipped (Grafana's only: {not wrong})")
for line in wrong:
    print(f"  unexpected skip: {line}")
sys.exit(1 if wrong or ran == 0 else 0)
PY

# The rerun command the kept cluster printed, once, as a user would paste it.
RERUN="$(awk '/^rerun (only )?the (failed )?tests against it:$/ {getline; sub(/^ +/, ""); print; exit}' "$LOG")"
[ -n "$RERUN" ] || fail "--keep-cluster printed no rerun command (log $LOG)"
read -r -a RERUN_ARGV <<<"$RERUN"
[ "${RERUN_ARGV[0]}" = pytest ] || fail "the rerun command does not start with pytest: $RERUN"
rerun() {
  "$PY" -m "${RERUN_ARGV[@]}" -p no:cacheprovider -q --artifacts "$ART/rerun" \
    --junitxml report/junit-e2e-rerun.xml
}
timed "rerun against the kept cluster" rerun || fail "the printed rerun command failed: $RERUN"

# A readiness check that cannot pass: pytest must fail, and its bundle must hold the evidence.
ENDPOINT_ARGS=("${RERUN_ARGV[@]:2}")  # drop "pytest tests/e2e": keep --stack endpoints ...
failing_check() {
  local rc bundle
  "$PY" -m pytest .ci/kind/selftest/test_failing_readiness.py "${ENDPOINT_ARGS[@]}" -p no:cacheprovider -q \
    --artifacts "$ART/selftest" >"$LOGS/e2e-selftest.log" 2>&1
  rc=$?
  [ "$rc" = 1 ] || { say "the failing readiness check exited $rc, not 1 (log $LOGS/e2e-selftest.log)"; return 1; }
  bundle="$(find "$ART/selftest" -maxdepth 1 -type d -name '*test_failing_readiness*' | head -n1)"
  [ -n "$bundle" ] || { say "no diagnostics bundle under $ART/selftest"; return 1; }
  grep -q "harness-selftest-never-ready" "$bundle/failure.txt" &&
    grep -q "===== mytsdb/mytsdb-" "$bundle/pods.txt" &&
    grep -q -- "--- log of main container seed ---" "$bundle/pods.txt" &&
    grep -q "===== namespace mytsdb =====" "$bundle/events.txt" &&
    grep -q "Name:" "$bundle/describe.txt" ||
    { say "bundle $bundle lacks the failure, pod logs, events or describe output"; return 1; }
  say "diagnostics bundle of the failing check: $bundle ($(ls "$bundle" | xargs))"
}
timed "failing readiness check leaves a bundle" failing_check || fail "diagnostics bundle check"
timed "delete the kept cluster" "$KIND_BIN" delete cluster --name "$CLUSTER" || fail "kind delete cluster"
say "main job passed on kind; artifacts in $ART"
