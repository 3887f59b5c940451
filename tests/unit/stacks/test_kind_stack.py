"""The kind stack's decisions: tools, reuse vs create, which images to load, teardown, endpoints."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import stat
from pathlib import Path

import pytest
import yaml

from fixtures.common.config import HarnessConfig
from fixtures.common.errors import PrerequisiteMissing, StackStartError
from fixtures.kube.apply import load_documents
from fixtures.stacks.base import Endpoints
from fixtures.stacks.kind import KindStack
from fixtures.stacks.kind_support import (
    KIND_CONFIG,
    HarnessKindCluster,
    busy_host_ports,
    cluster_exists,
    host_ports,
    images_to_load,
    kind_config_path,
    kind_tools,
    node_image,
    role_urls,
)
from fixtures.stacks.kube_deploy import SERVICE_ROLES, role_ports
from seeder.manifest import SeedManifest
from tests.unit.support.cluster import FakeRunner

ROOT = Path(__file__).resolve().parents[3]
ENGINE_OK = {("docker", "version"): (0, "28.2.2\n")}


def executable(path: Path) -> str:
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def config(tmp_path: Path, **kw: object) -> HarnessConfig:
    return dataclasses.replace(HarnessConfig(rootdir=tmp_path, artifacts=tmp_path / "artifacts"), **kw)  # type: ignore[arg-type]


def test_missing_tools_are_named_with_how_to_get_them(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PrerequisiteMissing) as err:
        kind_tools(config(tmp_path, kind_bin=str(tmp_path / "nokind")), FakeRunner())
    text = str(err.value)
    assert "kind" in text and "--kind-bin" in text and "kind.sigs.k8s.io" in text
    assert "kubectl" in text and "--kubectl-bin" in text
    assert "docker" in text and "\n" not in text


def test_given_tools_are_used_and_nothing_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    kind, kubectl = executable(tmp_path / "my-kind"), executable(tmp_path / "kubectl")
    assert kind_tools(config(tmp_path, kind_bin=kind), FakeRunner(ENGINE_OK)) == (kind, kubectl)


def test_pytest_kind_never_downloads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    def no_network(*_a: object, **_k: object) -> None:
        raise AssertionError("pytest-kind tried to download a binary")

    monkeypatch.setattr(requests, "get", no_network)
    monkeypatch.chdir(tmp_path)
    cluster = HarnessKindCluster("c", kubeconfig=tmp_path / "kc", kind_path=tmp_path / "kind",
                                 kubectl_path=tmp_path / "kubectl")
    with pytest.raises(PrerequisiteMissing, match="kind"):
        cluster.create()
    with pytest.raises(PrerequisiteMissing, match="kubectl"):
        cluster.kubectl("get", "pods")


def crictl(image_id: str) -> tuple[int, str]:
    return 0, json.dumps({"status": {"id": image_id, "repoTags": ["x"]}})


def test_kind_load_is_skipped_only_when_every_node_has_the_same_image() -> None:
    def on(node: str, ref: str) -> tuple[str, ...]:
        return ("docker", "exec", node, "crictl", "inspecti", "-o", "json", ref)

    inspect = ("docker", "image", "inspect", "--format", "{{.Id}}")
    runner = FakeRunner({
        ("kind", "get", "nodes"): (0, "c-control-plane\nc-worker\n"),
        (*inspect, "a:h-1"): (0, "sha256:aaa\n"),
        (*inspect, "b:h-2"): (0, "sha256:bbb\n"),
        (*inspect, "c:h-3"): (0, "sha256:ccc\n"),
        on("c-control-plane", "a:h-1"): crictl("sha256:aaa"),
        on("c-worker", "a:h-1"): crictl("sha256:aaa"),
        on("c-control-plane", "b:h-2"): crictl("sha256:bbb"),
        on("c-worker", "b:h-2"): (1, "not found"),
        on("c-control-plane", "c:h-3"): crictl("sha256:old"),
        on("c-worker", "c:h-3"): crictl("sha256:old"),
    })
    assert images_to_load(runner, "kind", "c", ["a:h-1", "b:h-2", "c:h-3"]) == ["b:h-2", "c:h-3"]


def test_kind_load_happens_when_nodes_cannot_be_listed() -> None:
    runner = FakeRunner({("kind", "get", "nodes"): (1, "no cluster"),
                         ("docker", "image", "inspect"): (0, "sha256:aaa\n")})
    assert images_to_load(runner, "kind", "c", ["a:h-1"]) == ["a:h-1"]


def test_cluster_reuse_is_decided_by_exact_name() -> None:
    runner = FakeRunner({("kind", "get", "clusters"): (0, "mytsdb-harness-2\nother\n")})
    assert not cluster_exists(runner, "kind", "mytsdb-harness")
    assert cluster_exists(runner, "kind", "other")
    with pytest.raises(StackStartError, match="kind get clusters"):
        cluster_exists(FakeRunner({("kind", "get", "clusters"): (1, "boom")}), "kind", "x")


def test_every_role_is_reachable_through_the_kind_port_mappings() -> None:
    docs = load_documents(ROOT / "manifests")
    mapped = host_ports(yaml.safe_load((ROOT / "manifests" / KIND_CONFIG).read_text()))
    roles = role_ports(docs)
    assert set(roles) == set(SERVICE_ROLES)
    urls = role_urls(roles, mapped)
    for role, port in roles.items():
        address, host_port = mapped[port.node_port]  # type: ignore[index]
        assert urls[role] == f"{address}:{host_port}" and address == "127.0.0.1"


def test_an_unmapped_node_port_is_an_error_naming_the_role() -> None:
    roles = role_ports(load_documents(ROOT / "manifests"))
    with pytest.raises(StackStartError, match=r"target .*mytsdb-nodeport:http"):
        role_urls(roles, {})


def test_listen_address_all_interfaces_is_reached_on_loopback() -> None:
    mapping = {"containerPort": 30090, "hostPort": 9090, "listenAddress": "0.0.0.0"}
    cfg = {"nodes": [{"extraPortMappings": [mapping]}]}
    assert host_ports(cfg) == {30090: ("127.0.0.1", 9090)}


def test_busy_host_ports_are_found_before_creating_a_cluster() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        mapped = {30090: ("127.0.0.1", port), 30091: ("127.0.0.1", free)}
        assert busy_host_ports(mapped) == [f"127.0.0.1:{port}"]
    assert busy_host_ports(mapped) == []


class FakeCluster:
    def __init__(self) -> None:
        self.deleted = 0

    def delete(self) -> None:
        self.deleted += 1


def started_stack(tmp_path: Path, *, created: bool, keep: bool, started: bool = True) -> KindStack:
    runner = FakeRunner({("kind", "export", "logs"): (0, "")})
    stack = KindStack(config(tmp_path, keep_cluster=keep, cluster_name="c1"), runner)
    stack.kind, stack.kubectl, stack.created, stack.started = "kind", "kubectl", created, started
    stack.cluster = FakeCluster()  # type: ignore[assignment]
    manifest = SeedManifest(spec={}, seed=42, start_ms=0, end_ms=3_600_000, interval_ms=60_000)
    stack.endpoints = Endpoints(stack="kind", target_url="http://127.0.0.1:30090",
                                reference_url="http://127.0.0.1:30091", manifest=manifest,
                                grafana_url="http://127.0.0.1:30300")
    return stack


@pytest.mark.parametrize(("created", "keep", "deleted", "kept"), [
    (True, False, 1, False), (True, True, 0, True), (False, False, 0, True), (False, True, 0, True)])
def test_teardown_deletes_only_a_cluster_this_run_created(tmp_path: Path, created: bool, keep: bool,
                                                         deleted: int, kept: bool) -> None:
    stack = started_stack(tmp_path, created=created, keep=keep)
    cluster = stack.cluster
    stack.stop()
    stack.stop()  # idempotent
    assert cluster.deleted == deleted  # type: ignore[union-attr]
    assert bool(stack.describe_kept()) is kept


def test_failed_bring_up_exports_kind_logs_before_deleting(tmp_path: Path) -> None:
    stack = started_stack(tmp_path, created=True, keep=False, started=False)
    stack.stop()
    [export] = stack.runner.called("kind", "export", "logs")  # type: ignore[attr-defined]
    assert export == ("kind", "export", "logs", str(tmp_path / "artifacts" / "kind-logs"), "--name", "c1")


def test_kept_message_and_rerun_arguments(tmp_path: Path) -> None:
    stack = started_stack(tmp_path, created=True, keep=True)
    text = stack.describe_kept()
    assert "--context kind-c1" in text and str(stack.kubeconfig) in text
    assert "http://127.0.0.1:30090" in text and "http://127.0.0.1:30300" in text
    assert "kind delete cluster --name c1" in text
    args = stack.rerun_args(tmp_path / "m.json")
    assert args[:2] == ["--stack", "endpoints"]
    pairs = dict(zip(args[::2], args[1::2], strict=True))
    assert pairs["--target-url"] == "http://127.0.0.1:30090"
    assert pairs["--seed-manifest"] == str(tmp_path / "m.json")
    assert pairs["--context"] == "kind-c1" and pairs["--kubeconfig"] == str(stack.kubeconfig)


def test_reusing_a_running_cluster_exports_its_kubeconfig_and_never_creates(tmp_path: Path) -> None:
    published = "\n".join(f"{p}/tcp -> 127.0.0.1:{p}" for p in (30090, 30815, 30317, 30091, 30300))
    runner = FakeRunner({("kind", "get", "clusters"): (0, "c1\n"), ("kind", "export", "kubeconfig"): (0, ""),
                         ("docker", "port", "c1-control-plane"): (0, "6443/tcp -> 0.0.0.0:1\n" + published)})
    stack = KindStack(config(tmp_path, cluster_name="c1"), runner)
    stack.kind, stack.kubectl = "kind", "kubectl"
    (tmp_path / "manifests" / "kind").mkdir(parents=True)
    (tmp_path / "manifests" / "versions.yaml").write_text("tools: {kind-node-image: kindest/node:v1.33.1}\n")
    (tmp_path / "manifests" / KIND_CONFIG).write_text(
        (ROOT / "manifests" / KIND_CONFIG).read_text())
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)  # pytest-kind creates .pytest-kind/<name> in the working directory
        stack.bring_up_cluster()
    finally:
        os.chdir(cwd)
    assert not stack.created
    assert runner.called("kind", "export", "kubeconfig") == [
        ("kind", "export", "kubeconfig", "--name", "c1", "--kubeconfig", str(stack.kubeconfig))]
    assert stack.cluster is not None and stack.cluster.image == "kindest/node:v1.33.1"


def test_existing_cluster_kubeconfig_resolution(tmp_path: Path) -> None:
    from fixtures.stacks.existing import resolve_kubeconfig

    given = tmp_path / "given"
    given.write_text("apiVersion: v1\n")
    assert resolve_kubeconfig(config(tmp_path, kubeconfig=given), {}) == given
    first, second = tmp_path / "a", tmp_path / "b"
    second.write_text("apiVersion: v1\n")
    env = {"KUBECONFIG": f"{first}{os.pathsep}{second}", "HOME": str(tmp_path)}
    assert resolve_kubeconfig(config(tmp_path), env) == second, "the first existing file of $KUBECONFIG"
    (tmp_path / ".kube").mkdir()
    (tmp_path / ".kube" / "config").write_text("apiVersion: v1\n")
    assert resolve_kubeconfig(config(tmp_path), {"HOME": str(tmp_path)}) == tmp_path / ".kube" / "config"
    with pytest.raises(PrerequisiteMissing, match="--kubeconfig FILE"):
        resolve_kubeconfig(config(tmp_path), {"HOME": str(tmp_path / "nohome")})


def test_existing_cluster_is_never_deleted_and_reruns_on_itself(tmp_path: Path) -> None:
    from fixtures.stacks.existing import ExistingClusterStack

    stack = ExistingClusterStack(config(tmp_path), FakeRunner())
    stack.restore_state({"kubectl": "kubectl", "kubeconfig": "/k/config", "context": "prod-like",
                         "namespaces": ["grafana", "mytsdb"]})
    stack.stop()
    assert stack.runner.calls == []  # type: ignore[attr-defined]
    assert "delete namespace grafana mytsdb" in stack.describe_kept()
    assert stack.rerun_args(tmp_path / "m.json") == ["--stack", "existing", "--kubeconfig", "/k/config",
                                                     "--context", "prod-like"]


def test_reusing_a_cluster_made_without_our_port_mappings_is_refused(tmp_path: Path) -> None:
    runner = FakeRunner({("kind", "get", "clusters"): (0, "kind\n"),
                         ("kind", "export", "kubeconfig"): (0, ""),
                         ("docker", "port", "kind-control-plane"): (0, "6443/tcp -> 127.0.0.1:40123\n")})
    stack = KindStack(dataclasses.replace(config(tmp_path, cluster_name="kind"), rootdir=ROOT), runner)
    stack.kind, stack.kubectl = "kind", "kubectl"
    stack.kubeconfig = tmp_path / "kc" / "kubeconfig"
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        with pytest.raises(StackStartError) as err:
            stack.bring_up_cluster()
    finally:
        os.chdir(cwd)
    text = str(err.value)
    assert f"was not created from {ROOT / 'manifests' / KIND_CONFIG}" in text
    assert "30090->127.0.0.1:30090" in text
    assert "kind delete cluster --name kind" in text and not stack.created


def test_node_image_and_config_default_to_the_pins_and_follow_the_options(tmp_path: Path) -> None:
    pinned = yaml.safe_load((ROOT / "manifests" / "versions.yaml").read_text())["tools"]["kind-node-image"]
    default = HarnessConfig(rootdir=ROOT)
    assert node_image(default) == pinned
    assert kind_config_path(default) == ROOT / "manifests" / KIND_CONFIG
    overlay = tmp_path / "kind-ci.yaml"
    given = HarnessConfig(rootdir=ROOT, kind_node_image="local/node:v1", kind_config=overlay)
    assert node_image(given) == "local/node:v1" and kind_config_path(given) == overlay


def test_rerun_arguments_keep_what_was_left_out(tmp_path: Path) -> None:
    stack = started_stack(tmp_path, created=True, keep=True)
    stack.config = dataclasses.replace(stack.config, without=("grafana",))
    args = stack.rerun_args(tmp_path / "m.json")
    assert args[args.index("--without") + 1] == "grafana"
