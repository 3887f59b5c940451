"""Deploy orchestration on the real manifests, with the API server replaced at its client boundary.

The expected seed manifest comes from the real seeder CLI (null sink), as in a cluster run.
"""

from __future__ import annotations

import base64
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from fixtures.common.config import HarnessConfig
from fixtures.kube import apply as ka
from fixtures.stacks import kube_deploy
from fixtures.stacks.kube_deploy import Deployer, compare_manifests, expected_manifest
from seeder.manifest import SeedManifest
from tests.unit.support.cluster import pod, status

ROOT = Path(__file__).resolve().parents[3]
TINY = {"PRESET": "tiny", "SEED": "42", "END_TIME": "1793491200"}


def test_expected_manifest_is_the_seeders_and_differences_are_named(tmp_path: Path) -> None:
    first = expected_manifest(TINY, tmp_path)
    again = expected_manifest(TINY, tmp_path)
    other = expected_manifest({**TINY, "SEED": "43"}, tmp_path)
    assert first.digest and first.digest == again.digest and other.digest != first.digest
    assert compare_manifests(first, again) is None
    why = compare_manifests(first, other)
    assert why is not None and why.startswith("digest:") and str(other.digest) in why


class FakeDynamic:
    """Records server-side applies in order; the API server would do the same for these objects."""

    def __init__(self, log: list[str]) -> None:
        self.log, self.resources = log, self

    def get(self, api_version: str, kind: str) -> Any:
        return type("Resource", (), {"kind": kind, "namespaced": kind != "Namespace"})()

    def server_side_apply(self, resource: Any, body: dict[str, Any], name: str, namespace: str | None,
                          **_: Any) -> None:
        self.log.append(f"apply {resource.kind}/{name}")
        if body["kind"] == "ConfigMap" and name == ka.SEED_SPEC_CONFIGMAP:
            self.log.append(f"seed-spec {body['data']}")


class FakeCore:
    def __init__(self, log: list[str], seed_spec: dict[str, str] | None, secret: k8s.V1Secret | None) -> None:
        self.log, self.seed_spec, self.secret = log, seed_spec, secret

    def read_namespaced_config_map(self, name: str, namespace: str, **_: Any) -> k8s.V1ConfigMap:
        if self.seed_spec is None:
            raise k8s.ApiException(status=404, reason="Not Found")
        return k8s.V1ConfigMap(data=self.seed_spec)

    def read_namespace(self, name: str, **_: Any) -> k8s.V1Namespace:
        self.log.append(f"read Namespace/{name}")
        return k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name),
                               status=k8s.V1NamespaceStatus(phase="Active"))

    def read_namespaced_secret(self, name: str, namespace: str, **_: Any) -> k8s.V1Secret:
        if self.secret is None:
            raise k8s.ApiException(status=404, reason="Not Found")
        return self.secret

    def create_namespaced_secret(self, namespace: str, body: k8s.V1Secret) -> None:
        self.log.append(f"create Secret/{body.metadata.name} in {namespace}")

    def list_namespaced_pod(self, namespace: str, **_: Any) -> k8s.V1PodList:
        return k8s.V1PodList(items=[pod(containers=[status("main", ready=True)])])


class FakeApps:
    def read_namespaced_deployment(self, name: str, namespace: str, **_: Any) -> k8s.V1Deployment:
        return k8s.V1Deployment(
            metadata=k8s.V1ObjectMeta(name=name, namespace=namespace, generation=1),
            spec=k8s.V1DeploymentSpec(replicas=1, selector=k8s.V1LabelSelector(match_labels={"a": name}),
                                      template=k8s.V1PodTemplateSpec()),
            status=k8s.V1DeploymentStatus(observed_generation=1, updated_replicas=1, ready_replicas=1,
                                          replicas=1))


def deploy(monkeypatch: pytest.MonkeyPatch, seed_spec: dict[str, str] | None,
           secret: k8s.V1Secret | None, **cfg: Any) -> tuple[list[str], Any]:
    log: list[str] = []
    monkeypatch.setattr(kube_deploy, "DynamicClient", lambda _api: FakeDynamic(log))
    deployer = Deployer(dataclasses.replace(HarnessConfig(rootdir=ROOT), **cfg), k8s.ApiClient(), {},
                        progress=lambda line: log.append(f"progress {line.split(':')[0]}"),
                        clock=lambda: 1_793_491_234.0)
    deployer.core, deployer.apps = FakeCore(log, seed_spec, secret), FakeApps()  # type: ignore[assignment]
    manifest = SeedManifest(spec={}, seed=42, start_ms=0, end_ms=1, interval_ms=60_000, digest="sha256:x")
    monkeypatch.setattr(deployer, "verify_seed", lambda values: (log.append(f"verify {values}"), manifest)[1])
    return log, deployer.deploy()


def test_fresh_cluster_order_secret_seed_spec_and_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    log, deployed = deploy(monkeypatch, None, None)
    namespaces = [i for i, line in enumerate(log) if line.startswith("apply Namespace/")]
    [secret] = [i for i, line in enumerate(log) if line.startswith("create Secret/grafana-admin")]
    checked = [i for i, line in enumerate(log) if line.startswith("read Namespace/")]
    assert len(checked) == len(namespaces) and max(namespaces) < min(checked) and max(checked) < secret
    others = [i for i, line in enumerate(log) if line.startswith("apply ") and "Namespace/" not in line]
    assert max(namespaces) < secret < min(others), "namespaces, then the Secret, then everything else"
    values = {"PRESET": "seed-20m", "SEED": "42", "END_TIME": "1793491200"}
    assert f"seed-spec {values}" in log and f"verify {values}" in log
    assert log.index(f"verify {values}") > max(others)
    assert deployed.grafana_auth is not None and deployed.grafana_auth[0] == ka.GRAFANA_USER
    assert deployed.seed_values == values and "mytsdb" in deployed.namespaces
    assert any(line.startswith("progress ready after") for line in log)


def test_reused_cluster_keeps_its_secret_and_end_time(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = {"PRESET": "tiny", "SEED": "42", "END_TIME": "1700000040"}
    secret = k8s.V1Secret(data={"admin-user": base64.b64encode(b"admin").decode(),
                                "admin-password": base64.b64encode(b"kept-pw").decode()})
    log, deployed = deploy(monkeypatch, kept, secret, seed_preset="tiny")
    assert not [line for line in log if line.startswith("create Secret")]
    assert deployed.grafana_auth == ("admin", "kept-pw")
    assert deployed.seed_values == kept and f"seed-spec {kept}" in log


def test_without_grafana_leaves_out_its_namespace_and_nothing_else() -> None:
    everything = kube_deploy.stack_documents(HarnessConfig(rootdir=ROOT))
    without = kube_deploy.stack_documents(HarnessConfig(rootdir=ROOT, without=("grafana",)))
    left_out = [d for d in everything if d not in without]
    in_grafana = [d["metadata"].get("namespace") == "grafana" or
                  (d["kind"] == "Namespace" and d["metadata"]["name"] == "grafana") for d in left_out]
    assert left_out and all(in_grafana)
    assert {d["kind"] for d in left_out} >= {"Namespace", "Deployment", "Service"}
    images = {c["image"] for d in everything for c in ka.containers(ka.pod_spec(d) or {})}
    kept = {c["image"] for d in without for c in ka.containers(ka.pod_spec(d) or {})}
    assert images - kept == {i for i in images if i.startswith("grafana/")}
    roles = kube_deploy.role_ports(without)
    assert "grafana" not in roles and {"target", "reference", "flight", "otlp"} <= set(roles)
