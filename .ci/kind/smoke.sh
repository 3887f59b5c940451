#!/usr/bin/env bash
# Smoke check of kind on this machine, before the harness uses it: create a cluster from the CI
# config and node image (up.sh must have run), then check
#   1. the node is Ready                       4. `kind load docker-image` works
#   2. kube-system pods are Ready               5. a pod behind a NodePort answers on 127.0.0.1
#   3. a pod of a preloaded image runs             (port 30090, one of cluster.yaml's mappings)
#                                               6. a deny-all NetworkPolicy blocks it (and only then)
# Nothing is pulled: every pod uses imagePullPolicy: Never. A failure prints one line naming the
# step and the log to read, and exports `kind export logs` to the artifacts directory. The cluster
# is deleted at the end unless KEEP=1.
# Usage: smoke.sh [CLUSTER_NAME (default kind-smoke)]. Env: HARNESS_ARTIFACTS (default
# <repo>/artifacts), KEEP=1. Exit 0 ok, 1 failed.
set -euo pipefail
# shellcheck source=.ci/kind/lib.sh
source "$(dirname "$0")/lib.sh"

NAME="${1:-kind-smoke}"
ENV_FILE="$OUT/kind.env"
[ -f "$ENV_FILE" ] || fail "no $ENV_FILE: run .ci/kind/up.sh first"
# shellcheck disable=SC1090
source "$ENV_FILE"
export DOCKER_HOST
ART="${HARNESS_ARTIFACTS:-$ROOT/artifacts}/kind-smoke"
rm -rf "$ART" && mkdir -p "$ART"
KUBECONFIG="$ART/kubeconfig"
export KUBECONFIG
K() { "$KUBECTL_BIN" --kubeconfig "$KUBECONFIG" --context "kind-$NAME" "$@"; }
PORT="$(grep -oE 'containerPort: *[0-9]+' "$KIND_CONFIG" | head -n1 | grep -oE '[0-9]+$')"
[ -n "$PORT" ] || fail "no extraPortMappings in $KIND_CONFIG"

STEP=""; STEP_LOG=""
on_exit() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "$STEP" ]; then
    say "FAILED at step '$STEP': read $STEP_LOG (kind logs: $ART/kind-logs)"
    "$KIND_BIN" export logs "$ART/kind-logs" --name "$NAME" >/dev/null 2>&1 || true
  fi
  if [ "${KEEP:-0}" != 1 ]; then
    "$KIND_BIN" delete cluster --name "$NAME" >/dev/null 2>&1 || true
  else
    say "kept cluster $NAME: DOCKER_HOST=$DOCKER_HOST KUBECONFIG=$KUBECONFIG"
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

logged() { local log="$1"; shift; "$@" >>"$log" 2>&1; }
step() {  # step NAME LOG CMD...: one check, its output in LOG, its time on stderr
  STEP="$1"; STEP_LOG="$2"; shift 2
  timed "smoke: $STEP" logged "$STEP_LOG" "$@"
}

# retry SECONDS CMD...: until CMD succeeds or the deadline passes (then CMD's last exit code)
retry() {
  local end=$(( $(date +%s) + $1 )) rc; shift
  while :; do
    "$@" && return 0 || rc=$?
    [ "$(date +%s)" -lt "$end" ] || return "$rc"
    sleep 2
  done
}

"$KIND_BIN" delete cluster --name "$NAME" >/dev/null 2>&1 || true
step "kind create cluster" "$ART/kind-create.log" \
  "$KIND_BIN" create cluster --name "$NAME" --image "$KIND_NODE_IMAGE" --config "$KIND_CONFIG" \
  --kubeconfig "$KUBECONFIG" --retain --wait 0s -v 1

step "node Ready" "$ART/nodes.log" K wait node --all --for=condition=Ready --timeout=180s

system_pods_ready() {  # every kube-system pod Ready (kubectl wait --all shares one timeout)
  local not_ready
  K -n kube-system get pods -o wide || return 1
  not_ready="$(K -n kube-system get pods -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' \
               | awk '$2 != "True" {print $1}')" || return 1
  [ -z "$not_ready" ] || { echo "not Ready yet: $not_ready"; return 1; }
}
step "kube-system pods Ready" "$ART/kube-system.log" retry 180 system_pods_ready

run_pause_pod() {
  local pause
  pause="registry.k8s.io/pause:$(pin pause)"  # preloaded by build.sh, as kubeadm wants it
  K run smoke-pause --image "$pause" --image-pull-policy Never --restart Never \
    && K wait pod smoke-pause --for=condition=Ready --timeout=90s
}
step "pod of a preloaded image runs" "$ART/pod.log" run_pause_pod

step "kind load docker-image" "$ART/kind-load.log" \
  "$KIND_BIN" load docker-image "$SMOKE_IMAGE" --name "$NAME"

nodeport() {
  K apply -f - <<EOF || return 1
apiVersion: v1
kind: Pod
metadata:
  name: smoke-http
  labels: {app: smoke-http}
spec:
  containers:
    - name: http
      image: $SMOKE_IMAGE
      imagePullPolicy: Never
      ports: [{containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata:
  name: smoke-http
spec:
  type: NodePort
  selector: {app: smoke-http}
  ports:
    - {port: 8080, targetPort: 8080, nodePort: $PORT}
EOF
  K wait pod smoke-http --for=condition=Ready --timeout=90s || return 1
  retry 60 curl -fsS --max-time 5 "http://127.0.0.1:$PORT/" | tee /dev/stderr | grep -q '^ok '
}
step "NodePort $PORT answers on 127.0.0.1" "$ART/nodeport.log" nodeport

# A deny-all ingress policy on the smoke pod must make the NodePort stop answering, and removing
# it must bring the answer back: NetworkPolicy is enforced, not just accepted by the API.
networkpolicy() {
  K apply -f - <<EOF || return 1
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: smoke-deny
spec:
  podSelector:
    matchLabels: {app: smoke-http}
  policyTypes: [Ingress]
EOF
  local end=$(( $(date +%s) + 60 ))
  while curl -fsS --max-time 3 "http://127.0.0.1:$PORT/" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || { echo "still answering 60s after a deny-all NetworkPolicy"; return 1; }
    sleep 2
  done
  echo "deny-all policy: NodePort blocked"
  K delete networkpolicy smoke-deny || return 1
  retry 60 curl -fsS --max-time 5 "http://127.0.0.1:$PORT/" || { echo "no answer after the policy was removed"; return 1; }
}
step "NetworkPolicy enforced" "$ART/networkpolicy.log" networkpolicy

say "passed: node Ready, kube-system Ready, pod runs, kind load works, NodePort $PORT answers, NetworkPolicy enforced"
