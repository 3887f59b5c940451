"""The nightly GitHub Actions workflow: structure, actions, shell syntax, pins and documentation.

GitHub cannot run here, so this checks what can fail before it ever runs: the YAML, the actions
and versions it uses, every ``run:`` script's bash syntax, that kind/kubectl versions come from
``manifests/versions.yaml``, and that every ``workflow_call`` input is documented in docs/e2e.md.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "nightly-e2e.yml"
ALLOWED_ACTIONS = {"actions/checkout@v4", "actions/setup-python@v5", "actions/upload-artifact@v4"}


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    data = yaml.safe_load(WORKFLOW.read_text())
    data["on"] = data.pop(True)  # YAML 1.1 reads the key `on` as a boolean
    return data


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    [job] = workflow["jobs"].values()
    return job["steps"]


def test_triggers_and_only_known_actions(workflow: dict[str, Any]) -> None:
    assert {"schedule", "workflow_dispatch", "workflow_call"} <= set(workflow["on"])
    used = {s["uses"] for s in steps(workflow) if "uses" in s}
    assert used <= ALLOWED_ACTIONS and "actions/upload-artifact@v4" in used
    assert workflow["permissions"] == {"contents": "read"}


def test_dispatch_and_call_take_the_same_inputs_all_documented(workflow: dict[str, Any]) -> None:
    call, dispatch = workflow["on"]["workflow_call"]["inputs"], workflow["on"]["workflow_dispatch"]["inputs"]
    assert set(call) == set(dispatch)
    docs = (ROOT / "docs" / "e2e.md").read_text()
    for name, spec in call.items():
        assert spec.get("description"), f"workflow_call input {name} has no description"
        assert f"`{name}`" in docs, f"docs/e2e.md does not document the workflow input {name}"


def test_every_run_script_is_valid_bash() -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not on PATH")
    data = yaml.safe_load(WORKFLOW.read_text())
    [job] = data["jobs"].values()
    for step in job["steps"]:
        if "run" not in step:
            continue
        script = re.sub(r"\$\{\{[^}]*\}\}", "x", step["run"])  # expressions are substituted by GitHub
        result = subprocess.run([bash, "-n"], input=script, text=True, capture_output=True, check=False)
        assert result.returncode == 0, f"step {step.get('name')!r}: {result.stderr}"


def test_kind_and_kubectl_versions_are_the_pinned_ones(workflow: dict[str, Any]) -> None:
    [install] = [s for s in steps(workflow) if "kind.sigs.k8s.io/dl" in s.get("run", "")]
    assert install["working-directory"] == "harness"
    extract = "\n".join(line for line in install["run"].splitlines() if "sed -n" in line)
    out = subprocess.run(["bash", "-c", extract + '\necho "$kind_version $kubectl_version"'], cwd=ROOT,
                         text=True, capture_output=True, check=True).stdout.split()
    tools = yaml.safe_load((ROOT / "manifests" / "versions.yaml").read_text())["tools"]
    assert out == [tools["kind"], tools["kubectl"]]
    assert "sha256sum -c" in install["run"], "downloads are checksum-verified"


def test_runs_the_e2e_job_with_junit_and_uploads_everything_even_on_failure(workflow: dict[str, Any]) -> None:
    [run] = [s for s in steps(workflow) if "./run.sh e2e" in s.get("run", "")]
    assert run["working-directory"] == "harness"
    assert "--junitxml report/" in run["run"] and "--artifacts artifacts" in run["run"]
    assert "--report-dir report" in run["run"]
    [upload] = [s for s in steps(workflow) if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["if"] == "always()"
    assert set(upload["with"]["path"].split()) == {"harness/report/", "harness/artifacts/"}
    assert (ROOT / "run.sh").read_text().count("pytest tests/e2e") == 1


ALL_SKIPPED = "<testcase name='a'><skipped message='no kind'/></testcase>"
SOME_RAN = "<testcase name='a'/><testcase name='b'><skipped/></testcase>"


@pytest.mark.parametrize(("cases", "code"), [(ALL_SKIPPED, 1), (SOME_RAN, 0)])
def test_an_all_skipped_run_fails_the_job(workflow: dict[str, Any], tmp_path: Path, cases: str,
                                          code: int) -> None:
    [check] = [s for s in steps(workflow) if "junit-e2e.xml" in s.get("run", "") and "skipped" in s["run"]]
    (tmp_path / "report").mkdir()
    tests, skipped = cases.count("<testcase"), cases.count("<skipped")
    (tmp_path / "report" / "junit-e2e.xml").write_text(
        f"<testsuites><testsuite name='pytest' tests='{tests}' skipped='{skipped}'>{cases}"
        "</testsuite></testsuites>")
    result = subprocess.run(["bash", "-c", check["run"]], cwd=tmp_path, text=True, capture_output=True,
                            check=False)
    assert result.returncode == code, result.stdout + result.stderr
    if code:
        assert "::error::all 1 e2e tests skipped: no kind" in result.stdout
