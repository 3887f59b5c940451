"""The cluster options and skip messages, through pytest itself (pytester)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = 'pytest_plugins = ["fixtures.plugin", "fixtures.cluster_plugin"]\n'
E2E_TEST = """
import pytest
pytestmark = pytest.mark.cluster

def test_needs_a_cluster(cluster):
    assert cluster.endpoints.kube is not None
"""
BASE_ARGS = ("-p", "no:pytest-kind-ng", "-p", "no:hypothesispytest", "-p", "no:cacheprovider", "-rs")


def fake_tool(directory: Path, name: str, body: str = "exit 0") -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_e2e=E2E_TEST)
    for var in ("HARNESS_STACK", "MYTSDB_SRC", "MYTSDB_IMAGE", "HARNESS_KIND_BIN", "HARNESS_KUBECTL_BIN",
                "KUBECONFIG_HARNESS", "HARNESS_KEEP_CLUSTER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", str(pytester.path / "bin"))  # no kind, kubectl or docker at all
    return pytester


def skip_lines(result: pytest.RunResult) -> list[str]:
    return [line for line in result.outlines if line.startswith("SKIPPED")]


def test_auto_without_kind_skips_cluster_tests_naming_each_missing_piece(project: pytest.Pytester) -> None:
    result = project.runpytest(*BASE_ARGS)
    result.assert_outcomes(skipped=1)
    [line] = skip_lines(result)
    assert "cluster tests need the kind stack; missing: kind not on PATH, kubectl not on PATH, docker, " \
           "no MyTSDB image" in line
    [summary] = [x for x in result.outlines if x.startswith("harness: 1 tests skipped:")]
    for part in ("kind not on PATH", "--kind-bin", "kubectl not on PATH", "--kubectl-bin",
                 "docker client is not on PATH", "--mytsdb-src PATH", "--mytsdb-image REF",
                 "--mytsdb-standin"):
        assert part in summary, part
        assert part not in line or part.endswith("not on PATH"), f"per-test line repeats the how: {part}"


def test_many_skipped_cluster_tests_print_the_how_once(project: pytest.Pytester) -> None:
    project.makepyfile(test_more="""
        import pytest
        pytestmark = pytest.mark.cluster
        @pytest.mark.parametrize("n", range(30))
        def test_many(n):
            pass
        def test_other():
            pass
    """)
    result = project.runpytest(*BASE_ARGS)
    result.assert_outcomes(skipped=32)
    assert sum("--kubectl-bin" in line for line in result.outlines) == 1
    assert [x for x in result.outlines if x.startswith("harness: 32 tests skipped:")]


def test_stack_kind_with_a_missing_kind_bin_names_the_path(project: pytest.Pytester) -> None:
    result = project.runpytest(*BASE_ARGS, "--stack", "kind", "--kind-bin", "/nonexistent/kind")
    result.assert_outcomes(skipped=1)
    [line] = skip_lines(result)
    assert "stack kind cannot run here; missing: kind (/nonexistent/kind) not found" in line
    [summary] = [x for x in result.outlines if x.startswith("harness: 1 tests skipped:")]
    assert "kind (/nonexistent/kind) not found: install kind" in summary and "--kind-bin" in summary


def test_stack_kind_without_mytsdb_names_the_source_options(project: pytest.Pytester) -> None:
    bin_dir = project.path / "bin"
    for tool in ("kind", "kubectl"):
        fake_tool(bin_dir, tool)
    fake_tool(bin_dir, "docker", 'echo "28.2.2"')
    result = project.runpytest(*BASE_ARGS, "--stack", "kind")
    result.assert_outcomes(skipped=1)
    [line] = skip_lines(result)
    assert "missing: no MyTSDB image (how to provide each:" in line
    [summary] = [x for x in result.outlines if x.startswith("harness: 1 tests skipped:")]
    assert "--mytsdb-src PATH" in summary and "MYTSDB_IMAGE" in summary


def test_local_stack_skips_cluster_tests_with_the_stack_named(project: pytest.Pytester) -> None:
    result = project.runpytest(*BASE_ARGS, "--stack", "local")
    result.assert_outcomes(skipped=1)
    [line] = skip_lines(result)
    assert "need --stack kind or --stack existing (this run uses stack local)" in line


def test_cluster_tests_skip_before_any_session_stack_is_set_up(project: pytest.Pytester) -> None:
    project.makepyfile(test_suite_copy="""
import pytest
pytestmark = pytest.mark.cluster

def test_promql_like(stack_endpoints):
    pass
""")
    project.makeconftest(CONFTEST + """
import pytest

@pytest.fixture(scope="session")
def stack_endpoints():
    raise AssertionError("a stack was brought up for a test that skips")
""")
    result = project.runpytest(*BASE_ARGS, "--stack", "local", "test_suite_copy.py")
    result.assert_outcomes(skipped=1)
    [line] = skip_lines(result)
    assert "this run uses stack local" in line


def test_bad_kubeconfig_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest(*BASE_ARGS, "--kubeconfig", "/nonexistent/kubeconfig")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*expected an existing file*/nonexistent/kubeconfig*"])


def test_environment_fallbacks_and_bad_values(project: pytest.Pytester,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(test_cfg="""
def test_cfg(harness_config):
    assert harness_config.keep_cluster is True
    assert harness_config.cluster_name == "from-env"
    assert harness_config.stack == "auto"
""")
    monkeypatch.setenv("HARNESS_KEEP_CLUSTER", "yes")
    monkeypatch.setenv("HARNESS_CLUSTER_NAME", "from-env")
    monkeypatch.setenv("HARNESS_STACK", "minikube")
    result = project.runpytest(*BASE_ARGS, "test_cfg.py")
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["harness: warning: ignoring HARNESS_STACK='minikube': expected one of*"])


def test_a_failing_stack_test_leaves_a_bundle(project: pytest.Pytester) -> None:
    project.makeconftest(CONFTEST + """
import pytest

@pytest.fixture(scope="session")
def stack_endpoints():
    return "endpoints of a stack that is not a cluster"
""")
    project.makepyfile(test_fail="""
def test_answers_differ(stack_endpoints):
    print("target said 3")
    assert 3 == 4, "curl -s http://127.0.0.1:30090/api/v1/query?query=up"
""")
    artifacts = project.path / "out"
    result = project.runpytest(*BASE_ARGS, "test_fail.py", "--artifacts", str(artifacts))
    result.assert_outcomes(failed=1)
    [bundle] = list(artifacts.iterdir())
    text = (bundle / "failure.txt").read_text()
    assert "test_fail.py::test_answers_differ" in text and "curl -s http://127.0.0.1:30090" in text
    assert "target said 3" in text


def test_the_prerequisite_probe_runs_once_per_session_config(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    from fixtures.common.config import HarnessConfig
    from fixtures.stacks import select
    from tests.unit.support.cluster import FakeRunner
    runners: list[FakeRunner] = []

    def counting_runner() -> FakeRunner:
        runners.append(FakeRunner({("docker", "version"): (1, "Cannot connect to the Docker daemon")}))
        return runners[-1]

    monkeypatch.setattr(select, "Runner", counting_runner)
    monkeypatch.setenv("PATH", str(tmp_path))
    config = HarnessConfig(rootdir=tmp_path)
    reasons = {select.cluster_skip_reason(config, "local") for _ in range(50)}
    [first] = reasons
    assert first is not None and "no Docker engine answers" in first and len(runners) == 1
    monkeypatch.setenv("PATH", str(tmp_path / "other"))
    select.cluster_skip_reason(config, "local")
    assert len(runners) == 2, "a changed PATH is probed again"


def test_standin_with_a_real_mytsdb_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest(*BASE_ARGS, "--mytsdb-standin", "--mytsdb-image", "mytsdb:dev")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--mytsdb-standin * never used when --mytsdb-image or --mytsdb-src*"])


def test_without_accepts_only_grafana(project: pytest.Pytester) -> None:
    result = project.runpytest(*BASE_ARGS, "--without", "reference")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--without: invalid choice: 'reference' (choose from*grafana*"])


def test_header_names_the_standin_and_what_was_left_out(project: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_WITHOUT", "grafana,bogus")  # a bad export: warned about, ignored
    result = project.runpytest(*BASE_ARGS, "--mytsdb-standin")
    result.stderr.fnmatch_lines(["harness: warning: ignoring HARNESS_WITHOUT='grafana,bogus'*"])
    result.stdout.fnmatch_lines(
        ["harness: * without=- * mytsdb-standin=yes (MyTSDB stand-in, a test double)"])
    result = project.runpytest(*BASE_ARGS, "--mytsdb-standin", "--without", "grafana")
    result.stdout.fnmatch_lines(["harness: * without=grafana * mytsdb-standin=yes (MyTSDB stand-in*"])


def test_stack_kind_without_prerequisites_says_how_once(project: pytest.Pytester) -> None:
    """`./run.sh e2e` is `--stack kind`: its many skips name what is missing; one line says how."""
    project.makepyfile(test_more="""
        import pytest
        @pytest.mark.parametrize("n", range(20))
        def test_query(stack_endpoints, n):
            pass
    """)
    result = project.runpytest(*BASE_ARGS, "--stack", "kind")
    result.assert_outcomes(skipped=21)
    assert sum("--kubectl-bin" in line for line in result.outlines) == 1
    [summary] = [x for x in result.outlines
                 if x.startswith("harness: 21 tests skipped: stack kind cannot run")]
    assert "kind not on PATH: install kind" in summary and "--mytsdb-standin" in summary
    skips = [line for line in skip_lines(result)
             if "stack kind cannot run here; missing: kind not on PATH" in line]
    assert skips and all("--kind-bin" not in line for line in skips)
