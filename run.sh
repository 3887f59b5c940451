#!/usr/bin/env bash
# One entry point for newcomers and CI: installs what is missing, then runs pytest.
#
#   ./run.sh e2e  [pytest args]   the main job: kind cluster, images, manifests, seed, all checks
#   ./run.sh test [pytest args]   the test suite CI runs: unit tests + PromQL suite on the local stack
#
# Setup is idempotent: Debian's prometheus (the reference oracle) via apt when missing, a venv in
# .venv with this repo installed (pinned deps from pyproject.toml), re-installed when pyproject changes.
set -euo pipefail
cd "$(dirname "$0")"

job="${1:-}"
case "$job" in
  e2e|test) shift ;;
  *) echo "usage: ./run.sh {e2e|test} [pytest args]" >&2; exit 2 ;;
esac

venv="${HARNESS_VENV:-.venv}"
python="${PYTHON:-python3}"

need_apt=()
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v promtool >/dev/null || need_apt+=(prometheus)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian's prometheus (reference Prometheus + promtool)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "setup: prometheus/promtool not on PATH and cannot apt-get install as non-root;" \
         "install Debian's 'prometheus' package (or pass --prometheus-bin/--promtool-bin)" >&2
  fi
fi

stamp="$venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "setup: creating $venv and installing the harness (pinned deps)" >&2
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  "$venv/bin/python" -m pip install -q -e '.[test]'
  rm -f "$venv"/.installed-*
  touch "$stamp"
fi

set +e
if [ "$job" = e2e ]; then
  # --stack kind unless HARNESS_STACK is set: pytest reads that itself (a bad value: one warning, ignored)
  stack_args=(--stack kind)
  [ -z "${HARNESS_STACK:-}" ] || stack_args=()
  "$venv/bin/python" -m pytest tests/e2e ${stack_args[@]+"${stack_args[@]}"} "$@"
else
  "$venv/bin/python" -m pytest "$@"
fi
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "run.sh: pytest collected no tests: that is a failure here" >&2
  exit 1
fi
exit "$rc"
