"""Third-party images on kind: from the manifests, into the host engine, loaded only when a node lacks them.

The docker/kind commands are faked at the subprocess boundary (``FakeRunner``); the decisions of
``prefetch_images``, ``images_to_load`` and ``KindStack.load_images`` run unchanged.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.checks.manifests import containers, load_manifests, workloads
from fixtures.common.config import HarnessConfig
from fixtures.common.errors import StackStartError, WaitAborted
from fixtures.common.pins import load_pins, repository_of
from fixtures.common.wait import set_progress_sink
from fixtures.kube.apply import load_documents
from fixtures.stacks.kind import KindStack
from fixtures.stacks.kind_support import prefetch_images, repo_image_specs, third_party_images
from tests.unit.support.cluster import FakeRunner

ROOT = Path(__file__).resolve().parents[3]
PINS = load_pins(ROOT / "manifests" / "versions.yaml")
GRAFANA = PINS.image("grafana")
INSPECT = ("docker", "image", "inspect", "--format", "{{.Id}}")
NODE = "c1-control-plane"
LISTED = {("kind", "get", "nodes"): (0, NODE + "\n")}  # the cluster's one node
RATE_LIMITED = (1, "toomanyrequests: You have reached your pull rate limit")


def on_node(ref: str) -> tuple[str, ...]:
    return ("docker", "exec", NODE, "crictl", "inspecti", "-o", "json", ref)


def crictl(image_id: str) -> tuple[int, str]:
    return 0, json.dumps({"status": {"id": image_id, "repoTags": ["x"]}})


def built_repositories() -> set[str]:
    """Repositories the kind stack builds or brings itself (MyTSDB plus this repo's images)."""
    specs = repo_image_specs(HarnessConfig(rootdir=ROOT))
    return {PINS.repository("mytsdb")} | {spec.repository for spec in specs.values()}


def test_third_party_images_are_what_the_applied_manifests_reference_and_all_pinned() -> None:
    ours = built_repositories()
    external = third_party_images(load_documents(ROOT / "manifests"), ours)
    # An independent reading of the manifests (the manifest checks' parser), not the code under test.
    used = {c["image"] for _d, _l, spec in workloads(load_manifests()) for c in containers(spec)}
    assert external == sorted(ref for ref in used if repository_of(ref) not in ours)
    assert external, "the manifests use no third-party image: the check below would prove nothing"
    pinned = set(PINS.images.values())
    assert set(external) <= pinned, f"not pinned in manifests/versions.yaml: {set(external) - pinned}"
    # Every pin is built by us, prefetched here, or a Dockerfile base (never pulled by a node).
    bases = {line.split()[1] for spec in repo_image_specs(HarnessConfig(rootdir=ROOT)).values()
             for line in spec.dockerfile.read_text().splitlines() if line.startswith("FROM ")}
    assert {ref for ref in pinned if repository_of(ref) not in ours} - set(external) == bases


def test_prefetched_images_are_used_only_if_not_present() -> None:
    """A preloaded image helps only when the kubelet does not pull anyway (Always would pull)."""
    external = set(third_party_images(load_documents(ROOT / "manifests"), built_repositories()))
    policies = {(c["name"], c.get("imagePullPolicy")) for _d, _l, spec in workloads(load_manifests())
                for c in containers(spec) if c["image"] in external}
    assert policies and all(policy == "IfNotPresent" for _name, policy in policies), policies


def test_already_on_the_host_is_not_pulled() -> None:
    runner = FakeRunner({**LISTED, (*INSPECT, GRAFANA): (0, "sha256:g\n")})
    lines: list[str] = []
    assert prefetch_images(runner, "kind", "c1", [GRAFANA], progress=lines.append, warn=lines.append) \
        == [GRAFANA]
    assert runner.called("docker", "pull") == [] and lines == []


def test_held_by_every_node_under_the_pinned_tag_is_neither_pulled_nor_loaded() -> None:
    runner = FakeRunner({**LISTED, (*INSPECT, GRAFANA): (1, "No such image"),
                         on_node(GRAFANA): crictl("sha256:g")})
    lines: list[str] = []
    assert prefetch_images(runner, "kind", "c1", [GRAFANA], progress=lines.append, warn=lines.append) == []
    assert runner.called("docker", "pull") == [] and lines == []


class FakeCluster:
    """pytest-kind's cluster at its ``kind load`` call: records loads, fails the refs it is told to."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.loaded: list[str] = []
        self.failing = failing

    def load_docker_image(self, ref: str) -> None:
        if ref in self.failing:
            raise subprocess.CalledProcessError(1, ["kind", "load", "docker-image", ref])
        self.loaded.append(ref)


def kind_stack(tmp_path: Path, runner: FakeRunner, failing: frozenset[str] = frozenset()) -> KindStack:
    stack = KindStack(HarnessConfig(rootdir=tmp_path, artifacts=tmp_path / "artifacts", cluster_name="c1"),
                      runner)
    stack.kind, stack.kubectl = "kind", "kubectl"
    stack.cluster = FakeCluster(failing)  # type: ignore[assignment]
    return stack


@pytest.fixture
def progress() -> Iterator[list[str]]:
    """The progress lines the harness prints (the session's sink, restored afterwards)."""
    lines: list[str] = []
    previous = set_progress_sink(lines.append)
    yield lines
    set_progress_sink(previous)


def test_missing_on_the_host_is_pulled_then_loaded(tmp_path: Path, progress: list[str]) -> None:
    runner = FakeRunner({**LISTED,
                         (*INSPECT, GRAFANA): [(1, "No such image"), (0, "sha256:g\n")],
                         on_node(GRAFANA): (1, "not found"),
                         ("docker", "pull", GRAFANA): (0, "Pull complete\n")})
    stack = kind_stack(tmp_path, runner)
    external = stack.prefetch([GRAFANA])
    stack.load_images(external, optional=frozenset(external))
    assert runner.called("docker", "pull") == [("docker", "pull", GRAFANA)]
    assert stack.cluster.loaded == [GRAFANA]  # type: ignore[union-attr]
    assert progress == [f"pulling {GRAFANA} into the local Docker engine",
                        f"loading {GRAFANA} into kind cluster c1"]
    assert stack.warnings == []


def test_a_node_with_the_same_image_id_gets_no_load(tmp_path: Path) -> None:
    runner = FakeRunner({**LISTED, (*INSPECT, GRAFANA): (0, "sha256:g\n"),
                         on_node(GRAFANA): crictl("sha256:g")})
    stack = kind_stack(tmp_path, runner)
    external = stack.prefetch([GRAFANA])
    stack.load_images(external, optional=frozenset(external))
    assert external == [GRAFANA] and stack.cluster.loaded == []  # type: ignore[union-attr]


def test_failed_pull_warns_once_and_leaves_the_pull_to_the_kubelet(tmp_path: Path,
                                                                  progress: list[str]) -> None:
    prometheus = PINS.image("prometheus")
    runner = FakeRunner({**LISTED, ("docker", "image", "inspect"): (1, "none"),
                         ("docker", "exec"): (1, "not found"),
                         ("docker", "pull", GRAFANA): RATE_LIMITED,
                         ("docker", "pull", prometheus): (0, "ok")})
    stack = kind_stack(tmp_path, runner)
    external = stack.prefetch([GRAFANA, prometheus])  # no exception
    assert external == [prometheus], "the failed image is not loaded: the kubelet pulls it as before"
    [warning] = stack.warnings
    assert [line for line in progress if "warning" in line] == [warning]
    assert "\n" not in warning and GRAFANA in warning and "toomanyrequests" in warning
    assert f"`docker pull {GRAFANA}`" in warning and "offline" in warning


def test_a_failed_load_of_a_third_party_image_only_warns(tmp_path: Path, progress: list[str]) -> None:
    ours = "mytsdb-harness/seeder:h-1"
    runner = FakeRunner({**LISTED, ("docker", "image", "inspect"): (0, "sha256:x"),
                         ("docker", "exec"): (1, "not found"), ("docker", "version"): (1, "engine gone")})
    stack = kind_stack(tmp_path, runner, failing=frozenset({GRAFANA, ours}))
    stack.load_images([GRAFANA], optional=frozenset({GRAFANA}))
    [warning] = stack.warnings
    assert GRAFANA in warning and "node will pull it itself" in warning
    assert [line for line in progress if "warning" in line] == [warning]
    with pytest.raises(StackStartError, match="kind load failed"):
        stack.load_images([ours], optional=frozenset({GRAFANA}))


def test_an_image_pull_failure_repeats_the_earlier_warning(tmp_path: Path, progress: list[str]) -> None:
    runner = FakeRunner({**LISTED, ("docker", "image", "inspect"): (1, "none"),
                         ("docker", "exec"): (1, "none"), ("docker", "pull", GRAFANA): RATE_LIMITED})
    stack = kind_stack(tmp_path, runner)
    stack.prefetch([GRAFANA])
    pulled = WaitAborted(f"grafana-0 container grafana: ImagePullBackOff (Back-off pulling {GRAFANA})")
    stack.recall_warnings(pulled)
    assert pulled.__notes__ == stack.warnings and len(stack.warnings) == 1
    crashed = WaitAborted("mytsdb/mytsdb-0 container mytsdb: CrashLoopBackOff")
    stack.recall_warnings(crashed)
    assert not hasattr(crashed, "__notes__"), "an unrelated failure gets no image warning"
