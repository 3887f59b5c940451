"""Session-level decisions: xdist sharing, end-of-session lines, rerun command, diagnostics."""

from __future__ import annotations

import shlex
import threading
from pathlib import Path
from typing import Any

import pytest

from fixtures.common.config import HarnessConfig
from fixtures.common.errors import PrerequisiteMissing, StackStartError
from fixtures.kube.access import KubeAccess
from fixtures.kube.diagnostics import bundle_dir, kind_export_logs, write_failure
from fixtures.stack_session import end_of_session_lines, finish_shared, rerun_command
from fixtures.stacks.base import Endpoints, Stack
from fixtures.xdist_share import SharedStack, endpoints_from_state, endpoints_to_state, read_state
from seeder.manifest import SeedManifest
from tests.unit.support.cluster import FakeRunner

MANIFEST = SeedManifest(spec={"preset": "tiny"}, seed=42, start_ms=0, end_ms=7_200_000, interval_ms=60_000,
                        series_total=3, metrics={"up": {"series": 3}}, digest="sha256:ab")


def endpoints() -> Endpoints:
    return Endpoints(stack="kind", target_url="http://127.0.0.1:30090", reference_url="http://127.0.0.1:30091",
                     manifest=MANIFEST, target_has_otlp=True, grafana_auth=("admin", "pw"),
                     kube=KubeAccess(Path("/tmp/kc"), "kind-x"), extra={"namespaces": ["mytsdb"]})


class CountingStack(Stack):
    """A cluster-like stack recording every lifecycle call (shared by 'workers' through a dict)."""

    name = "kind"

    def __init__(self, config: HarnessConfig, calls: dict[str, int], fail: Exception | None = None) -> None:
        super().__init__(config)
        self.calls, self.fail = calls, fail

    def _count(self, what: str) -> None:
        self.calls[what] = self.calls.get(what, 0) + 1

    def start(self) -> Endpoints:
        self._count("start")
        if self.fail:
            raise self.fail
        return endpoints()

    def stop(self) -> None:
        self._count("stop")

    def export_state(self) -> dict[str, Any]:
        return {"token": 7}

    def attach(self, state: dict[str, Any], eps: Endpoints) -> Endpoints:
        assert state == {"token": 7}
        self._count("attach")
        return eps

    def detach(self) -> None:
        self._count("detach")

    def restore_state(self, state: dict[str, Any], eps: Endpoints | None = None) -> None:
        self._count("restore")
        self.endpoints = eps

    def describe_kept(self) -> str:
        return "cluster x kept"

    def export_logs(self, dest: Path) -> str:
        self._count("export_logs")
        return f"logs in {dest}"

    def rerun_args(self, manifest_path: Path) -> list[str]:
        return ["--stack", "endpoints", "--seed-manifest", str(manifest_path)]


def test_endpoints_survive_the_state_file_round_trip() -> None:
    assert endpoints_from_state(endpoints_to_state(endpoints())) == endpoints()


def test_one_worker_starts_the_others_attach(tmp_path: Path) -> None:
    calls: dict[str, int] = {}
    cfg = HarnessConfig(artifacts=tmp_path / "a")
    workers = [SharedStack(CountingStack(cfg, calls), tmp_path, f"gw{i}", lock_timeout=30) for i in range(4)]
    results: list[Endpoints] = []
    threads = [threading.Thread(target=lambda w=w: results.append(w.__enter__())) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [endpoints()] * 4
    assert calls == {"start": 1, "attach": 3}
    for w in workers:
        w.__exit__(None, None, None)
    assert calls.get("stop") is None and calls["detach"] == 4, "workers only query; nobody tears down"
    assert (tmp_path / "stack.json").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(("error", "raised"), [
    (PrerequisiteMissing("kind not on PATH"), PrerequisiteMissing),
    (StackStartError("docker build failed"), StackStartError),
])
def test_the_owners_failure_is_replayed_not_retried(tmp_path: Path, error: Exception, raised: type) -> None:
    calls: dict[str, int] = {}
    cfg = HarnessConfig()
    owner = SharedStack(CountingStack(cfg, calls, fail=error), tmp_path, "gw0", lock_timeout=30)
    with pytest.raises(raised):
        owner.__enter__()
    assert calls == {"start": 1, "stop": 1}, "the owner cleans up what it started"
    with pytest.raises(raised, match=f"{error}.*worker gw0"):
        SharedStack(CountingStack(cfg, calls), tmp_path, "gw1", lock_timeout=30).__enter__()
    assert calls["start"] == 1


def test_controller_tears_down_after_all_workers(tmp_path: Path) -> None:
    calls: dict[str, int] = {}
    cfg = HarnessConfig(artifacts=tmp_path / "artifacts")
    SharedStack(CountingStack(cfg, calls), tmp_path, "gw0", lock_timeout=30).__enter__()
    assert read_state(tmp_path) is not None

    def make(name: str, config: HarnessConfig) -> Stack:
        assert name == "kind"
        return CountingStack(config, calls)

    lines = finish_shared(tmp_path, cfg, ["tests/e2e/test_a.py::test_x"], make)
    assert calls["restore"] == 1 and calls["stop"] == 1 and calls["export_logs"] == 1
    assert "cluster x kept" in lines and any("rerun only the failed tests" in line for line in lines)


def test_nothing_to_tear_down_when_no_worker_started_a_stack(tmp_path: Path) -> None:
    def make(*_: object) -> Stack:
        pytest.fail("must not build a stack")

    assert finish_shared(tmp_path, HarnessConfig(), [], make) == []


def test_end_of_session_lines(tmp_path: Path) -> None:
    calls: dict[str, int] = {}
    cfg = HarnessConfig(artifacts=tmp_path)
    stack = CountingStack(cfg, calls)
    stack.endpoints = endpoints()
    assert end_of_session_lines(stack, cfg, []) == ["cluster x kept"]
    assert "export_logs" not in calls, "kind logs only after failures"
    failed = ["tests/promql/test_dashboards.py::test_panel[K8s/CPU by pod/range/arrow]",
              "tests/e2e/t.py::test_y"]
    lines = end_of_session_lines(stack, cfg, failed)
    assert lines[0] == f"logs in {tmp_path / 'kind-logs'}"
    command = lines[-1].split("\n", 1)[1].strip()
    argv = shlex.split(command)
    assert argv[:3] == ["pytest", *failed]
    kept_manifest = tmp_path / "kept" / "seed-manifest.json"
    assert argv[3:] == ["--stack", "endpoints", "--seed-manifest", str(kept_manifest)]
    assert SeedManifest.load(tmp_path / "kept" / "seed-manifest.json") == MANIFEST


def test_a_clean_kept_run_prints_how_to_rerun_its_tests(tmp_path: Path) -> None:
    cfg = HarnessConfig(artifacts=tmp_path)
    stack = CountingStack(cfg, {})
    stack.endpoints = endpoints()
    lines = end_of_session_lines(stack, cfg, [], targets=["tests/e2e"])
    title, command = lines[-1].split("\n", 1)
    assert title == "rerun the tests against it:"
    kept_manifest = tmp_path / "kept" / "seed-manifest.json"
    assert shlex.split(command) == ["pytest", "tests/e2e", "--stack", "endpoints", "--seed-manifest",
                                    str(kept_manifest)]
    assert SeedManifest.load(kept_manifest) == MANIFEST


def test_rerun_command_deduplicates_and_quotes() -> None:
    ids = ["t.py::a[x y]", "t.py::a[x y]", "t.py::b"]
    assert shlex.split(rerun_command(ids, ["--stack", "endpoints"])) == ["pytest", "t.py::a[x y]", "t.py::b",
                                                                        "--stack", "endpoints"]


def test_bundle_directory_and_failure_file(tmp_path: Path) -> None:
    path = bundle_dir(tmp_path, "tests/e2e/test_grafana.py::test_panel[CPU / pod: 5m]")
    assert path.parent == tmp_path and "/" not in path.name and " " not in path.name
    assert path.name.startswith("tests_e2e_test_grafana.py__test_panel")
    out = write_failure(path, "t::x", "AssertionError: 3 != 4\ncurl -s 'http://...'",
                        [("Captured stdout call", "hello")], [("target_answer", {"a": 1})])
    text = out.read_text()
    for part in ("t::x", "3 != 4", "curl -s", "Captured stdout call", "hello", '"target_answer"'):
        assert part in text


def test_kind_export_logs_command_and_failure_line(tmp_path: Path) -> None:
    ok = FakeRunner({("kind", "export", "logs"): (0, "")})
    assert "exported to" in kind_export_logs(ok, "kind", "c1", tmp_path / "logs")
    assert ok.calls == [("kind", "export", "logs", str(tmp_path / "logs"), "--name", "c1")]
    bad = kind_export_logs(FakeRunner({("kind", "export", "logs"): (1, "no nodes")}), "kind", "c1", tmp_path)
    assert "failed" in bad and "no nodes" in bad
