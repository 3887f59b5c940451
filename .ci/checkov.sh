#!/usr/bin/env bash
# Security lint of manifests/ (Kubernetes YAML + Dockerfiles) with checkov, pinned in
# manifests/versions.yaml. checkov's dependencies conflict with the harness's, so it gets its own
# venv (never the main one): $CHECKOV_VENV, default ~/.cache/mytsdb-harness/checkov-<version>,
# reused when it already holds that version. Skips live, commented, in .ci/checkov.yaml; any other
# finding fails. A canary run then proves that a planted privileged container is still caught.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^  checkov: *//p' manifests/versions.yaml)
[ -n "$version" ] || { echo "checkov.sh: no tools.checkov pin in manifests/versions.yaml" >&2; exit 2; }
venv="${CHECKOV_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mytsdb-harness/checkov-$version}"
python="${CHECKOV_PYTHON:-python3}"

if [ "$("$venv/bin/checkov" --version 2>/dev/null || true)" != "$version" ]; then
  echo "checkov.sh: installing checkov==$version into $venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$version"
fi

scan() { "$venv/bin/checkov" --config-file .ci/checkov.yaml --directory "$1"; }

echo "checkov.sh: checkov $version over manifests/"
scan manifests

canary=$(mktemp -d)
trap 'rm -rf "$canary"' EXIT
cp -r manifests "$canary/manifests"
cat > "$canary/manifests/canary.yaml" <<'YAML'
apiVersion: v1
kind: Pod
metadata:
  name: canary
  namespace: mytsdb
spec:
  containers:
    - name: canary
      image: mytsdb-harness/seeder:0.1.0
      securityContext:
        privileged: true
YAML
if scan "$canary/manifests" > "$canary/out.txt" 2>&1; then
  echo "checkov.sh: a planted privileged container passed the scan: the configuration hides findings" >&2
  exit 1
fi
grep -q "CKV_K8S_16" "$canary/out.txt" || { echo "checkov.sh: canary failed for another reason:" >&2; tail -20 "$canary/out.txt" >&2; exit 1; }
echo "checkov.sh: passed (manifests clean; the planted privileged container was caught)"
