"""The cluster plugin's session hooks end to end, with a stand-in cluster stack (pytester).

The stand-in stack records its lifecycle in a file; everything else is the real plugin code:
diagnostics bundles, keep-cluster lines with the rerun command, kind logs after failures, and one
shared stack per xdist session, through the core ``stack_endpoints`` fixture of fixtures.plugin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

FAKE_STACK = '''
import json, os
from pathlib import Path
from fixtures.kube.access import KubeAccess
from fixtures.stacks.base import Endpoints, Stack
from seeder.manifest import SeedManifest

LOG = Path(os.environ["FAKE_STACK_LOG"])
KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: fake, user: {token: x}}]
contexts: [{name: kind-fake, context: {cluster: fake, user: fake}}]
current-context: kind-fake
"""

def record(event):
    with LOG.open("a") as out:
        out.write(json.dumps({"event": event, "pid": os.getpid()}) + "\\n")

class FakeKind(Stack):
    name = "kind"
    def start(self):
        record("start")
        from fixtures.common.wait import emit_progress
        emit_progress("fake bring-up at 50%")
        manifest = SeedManifest(spec={}, seed=42, start_ms=0, end_ms=7_200_000, interval_ms=60_000)
        kubeconfig = LOG.parent / "kubeconfig"  # loaded by the real `cluster` fixture, never dialled
        kubeconfig.write_text(KUBECONFIG)
        return Endpoints(stack="kind", target_url="http://127.0.0.1:30090",
                         reference_url="http://127.0.0.1:30091", manifest=manifest,
                         kube=KubeAccess(kubeconfig, "kind-fake"))
    def stop(self): record("stop")
    def export_state(self): return {"x": 1}
    def attach(self, state, endpoints):
        record("attach")
        self.endpoints = endpoints
        return endpoints
    def detach(self): record("detach")
    def restore_state(self, state, endpoints=None):
        record("restore")
        self.endpoints = endpoints
    def describe_kept(self): return "fake cluster kept: kubectl --context kind-fake get pods"
    def rerun_args(self, manifest_path):
        return ["--stack", "endpoints", "--seed-manifest", str(manifest_path)]
    def export_logs(self, dest):
        record("export_logs")
        return f"kind logs in {dest}"
    def collect_diagnostics(self, bundle_dir):
        bundle_dir.mkdir(parents=True, exist_ok=True)
        (bundle_dir / "pods.txt").write_text("pod logs of the fake cluster")
'''

CONFTEST = '''
from fixtures.stacks import STACK_CLASSES

pytest_plugins = ["fixtures.plugin", "fixtures.cluster_plugin"]
STACK_CLASSES["kind"] = "fake_stack:FakeKind"
'''

TESTS = '''
import pytest

@pytest.mark.parametrize("n", range(4))
def test_passes(stack_endpoints, n):
    assert stack_endpoints.stack == "kind"

def test_fails(stack_endpoints):
    assert stack_endpoints.target_url == "http://elsewhere", "target answered 3, reference 4"
'''


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    pytester.makepyfile(fake_stack=FAKE_STACK, test_stack=TESTS)
    pytester.makeconftest(CONFTEST)
    monkeypatch.setenv("FAKE_STACK_LOG", str(pytester.path / "lifecycle.jsonl"))
    from fixtures.stacks import STACK_CLASSES
    # the conftest swaps in the fake for in-process runs: put the real class back afterwards
    monkeypatch.setitem(STACK_CLASSES, "kind", STACK_CLASSES["kind"])
    return pytester


def events(project: pytest.Pytester) -> list[dict[str, object]]:
    path = project.path / "lifecycle.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


ARGS = ("-p", "no:pytest-kind-ng", "-p", "no:hypothesispytest", "-p", "no:cacheprovider", "--stack", "kind")


def check_end_of_session(project: pytest.Pytester, result: pytest.RunResult, artifacts: Path) -> None:
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*- cluster -*", "kind logs in *kind-logs", "fake cluster kept:*",
                                 "rerun only the failed tests against it:",
                                 "  pytest test_stack.py::test_fails --stack endpoints --seed-manifest *"])
    bundle = artifacts / "test_stack.py__test_fails"
    assert "target answered 3, reference 4" in (bundle / "failure.txt").read_text()
    assert (artifacts / "kept" / "seed-manifest.json").is_file()


def test_single_process_session(project: pytest.Pytester) -> None:
    artifacts = project.path / "artifacts"
    result = project.runpytest(*ARGS, "--keep-cluster", "--artifacts", str(artifacts))
    check_end_of_session(project, result, artifacts)
    result.stdout.fnmatch_lines(["harness: fake bring-up at 50%"])  # live, past output capture
    # a failing query points at the cluster state written once per session
    pointer = (artifacts / "test_stack.py__test_fails" / "cluster-state.txt").read_text()
    assert str(artifacts / "cluster-state") in pointer
    assert (artifacts / "cluster-state" / "pods.txt").read_text() == "pod logs of the fake cluster"
    assert [e["event"] for e in events(project)] == ["start", "export_logs", "stop"]


def test_xdist_session_shares_one_stack(project: pytest.Pytester) -> None:
    artifacts = project.path / "artifacts"
    result = project.runpytest_subprocess(*ARGS, "-n", "2", "--keep-cluster", "--artifacts", str(artifacts))
    check_end_of_session(project, result, artifacts)
    seen = events(project)
    kinds = [e["event"] for e in seen]
    assert kinds.count("start") == 1, seen
    assert kinds.count("stop") == 1 and kinds.count("restore") == 1 and kinds.count("export_logs") == 1
    [stopper] = [e["pid"] for e in seen if e["event"] == "stop"]
    workers = {e["pid"] for e in seen if e["event"] in ("start", "attach")}
    assert stopper not in workers, "the controller tears down, not a worker"


def test_a_failing_test_that_reaches_the_stack_through_cluster_gets_a_bundle(
        project: pytest.Pytester) -> None:
    """``cluster`` asks for the stack with getfixturevalue, so the test's static fixture closure
    does not name ``stack_endpoints``: the bundle must be written all the same."""
    project.makepyfile(test_cluster_use="""
def test_through_cluster(cluster):
    assert cluster.namespace == "elsewhere", "pods disagree"
""")
    artifacts = project.path / "artifacts"
    result = project.runpytest(*ARGS, "test_cluster_use.py", "--artifacts", str(artifacts))
    result.assert_outcomes(failed=1)
    bundle = artifacts / "test_cluster_use.py__test_through_cluster"
    assert "pods disagree" in (bundle / "failure.txt").read_text()
    assert (bundle / "pods.txt").read_text() == "pod logs of the fake cluster"


def test_a_stack_that_never_came_up_leaves_no_bundle_per_test(project: pytest.Pytester,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test errors with the same bring-up failure: its bundle (the stack's) is enough."""
    failing = '        record("start")\n        raise RuntimeError("no node")\n'
    project.makepyfile(fake_stack=FAKE_STACK.replace('        record("start")\n', failing))
    artifacts = project.path / "artifacts"
    result = project.runpytest(*ARGS, "--artifacts", str(artifacts))
    result.assert_outcomes(errors=5)
    assert not artifacts.exists() or not list(artifacts.iterdir())
