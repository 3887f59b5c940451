"""The cluster code against the real kubernetes client, with only the HTTP layer faked.

Every call our code makes goes through ``kubernetes.client`` / ``DynamicClient`` 37.0.2 unchanged
(pydantic argument validation, URL building, serialization, deserialization); the fake API
server (``kube_http_fake``) records each request, so a wrong path, verb, content type or query
parameter fails here instead of on a user's cluster.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.dynamic import DynamicClient

from fixtures.common.errors import StackStartError
from fixtures.common.wait import Wait
from fixtures.kube import apply as ka
from fixtures.stacks.kube_deploy import Deployer, NamespacesActive, expected_manifest
from tests.e2e.helpers import ExecInRunning
from tests.unit.support.kube_http import FakeApiServer, status_body
from tests.unit.support.kube_scenarios import CONFIG, docs, images, rolled_out, seeded_cluster, websocket


@pytest.fixture(autouse=True)
def _private_discovery_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamicClient caches discovery in the temp dir, keyed by host: keep each test's own."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def applies(server: FakeApiServer) -> list[Any]:
    return [r for r in server.requests if r.method == "PATCH"]


def test_every_object_is_server_side_applied_at_its_real_path() -> None:
    server = FakeApiServer()
    objects = docs()
    applied = ka.apply_documents(DynamicClient(server.client()), objects)
    patches = applies(server)
    assert len(patches) == len(objects) == len(applied)
    for req in patches:
        assert req.content_type == "application/apply-patch+yaml", req.path
        assert req.param("fieldManager") == ka.FIELD_MANAGER and req.param("force") == "true", req.query
    paths = [r.path for r in patches]
    assert paths[0].startswith("/api/v1/namespaces/")
    assert "/apis/apps/v1/namespaces/mytsdb/deployments/mytsdb" in paths
    assert "/api/v1/namespaces/mytsdb/configmaps/seed-spec" in paths
    assert "/apis/networking.k8s.io/v1/namespaces/mytsdb/networkpolicies/" in "\n".join(paths)
    first_other = min(i for i, p in enumerate(paths) if "/namespaces/" in p and p.count("/") > 4)
    assert all(p.count("/") == 4 for p in paths[:first_other]), "Namespaces are applied before anything else"
    body = next(r.body for r in patches if r.path.endswith("/deployments/mytsdb"))
    images_used = {c["image"] for c in body["spec"]["template"]["spec"]["containers"]}
    assert images_used == {images()["mytsdb-harness/mytsdb"], images()["mytsdb-harness/seeder"]}


def identities(server: FakeApiServer) -> dict[str, tuple[int, str]]:
    return {p: (o["metadata"]["generation"], o["metadata"]["uid"]) for p, o in server.objects.items()}


def test_re_applying_changes_nothing() -> None:
    server = FakeApiServer()
    dynamic = DynamicClient(server.client())
    ka.apply_documents(dynamic, docs())
    before = identities(server)
    first_bodies = [r.body for r in applies(server)]
    server.requests.clear()
    ka.apply_documents(dynamic, docs())
    assert [r.body for r in applies(server)] == first_bodies
    assert identities(server) == before


def test_grafana_secret_is_created_once_then_reused() -> None:
    server = FakeApiServer()
    core = k8s.CoreV1Api(server.client())
    user, password = ka.ensure_grafana_secret(core, "grafana")
    [post] = server.made("POST")
    # the generated client sends JSON without a Content-Type; the API server defaults to JSON
    assert post.path == "/api/v1/namespaces/grafana/secrets"
    assert post.content_type in (None, "application/json")
    assert post.body["metadata"]["name"] == ka.GRAFANA_SECRET and post.body["type"] == "Opaque"
    assert post.body["stringData"] == {"admin-user": user, "admin-password": password} and len(password) >= 24
    server.requests.clear()
    assert ka.ensure_grafana_secret(core, "grafana") == (user, password)
    assert not server.made("POST") and [r.path for r in server.made("GET")] == [
        "/api/v1/namespaces/grafana/secrets/grafana-admin"]


# ---------------------------------------------------------------------------------------------
# the whole deploy: apply, wait (controllers played by on_apply), exec the manifest, verify
# ---------------------------------------------------------------------------------------------


def test_deploy_applies_waits_and_verifies_the_pods_manifest(tmp_path: Path) -> None:
    expected = expected_manifest({"PRESET": "tiny", "SEED": "42", "END_TIME": "1793491200"}, tmp_path)
    server = FakeApiServer(on_apply=rolled_out)
    execs: list[tuple[str, list[str], str]] = []

    def exec_output(pod: str, command: list[str], container: str) -> str:
        execs.append((pod, command, container))
        return (tmp_path / "expected-seed-manifest.json").read_text()

    server.exec_output = exec_output
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("kubernetes.stream.ws_client.create_websocket",
                   lambda _cfg, url, headers=None: websocket(server, url))
        deployed = Deployer(CONFIG, server.client(), images(), progress=lines.append).deploy()
    assert deployed.manifest.digest == expected.digest
    assert execs == [("mytsdb-7d9c-abcde", ["cat", "/ready/seed-manifest.json"], "seed")]
    [ws] = [r for r in server.requests if r.method == "WS"]
    assert ws.path == "/api/v1/namespaces/mytsdb/pods/mytsdb-7d9c-abcde/exec"
    assert dict(ws.query)["stdout"] == "true" and dict(ws.query)["tty"] == "false"
    assert deployed.grafana_auth is not None and deployed.namespaces == tuple(sorted(
        d["metadata"]["name"] for d in docs() if d["kind"] == "Namespace"))
    pod_lists = [r for r in server.made("GET", "/pods") if r.path.endswith("/pods")]
    assert pod_lists and all(r.param("labelSelector") for r in pod_lists)
    assert any(line.startswith("ready after") for line in lines), lines


def test_re_deploy_keeps_the_clusters_end_time_and_secret(tmp_path: Path) -> None:
    server = FakeApiServer(on_apply=rolled_out)
    config = dataclasses.replace(CONFIG, seed_end_time=None)
    manifest_json: dict[str, str] = {}

    def exec_output(pod: str, command: list[str], container: str) -> str:
        return manifest_json["text"]

    server.exec_output = exec_output
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("kubernetes.stream.ws_client.create_websocket",
                   lambda _cfg, url, headers=None: websocket(server, url))
        values = {"PRESET": "tiny", "SEED": "42", "END_TIME": "1793491200"}
        expected_manifest(values, tmp_path)
        manifest_json["text"] = (tmp_path / "expected-seed-manifest.json").read_text()
        first = Deployer(config, server.client(), images(), progress=lambda _l: None,
                         clock=lambda: 1_793_491_234.0).deploy()
        generations = {p: o["metadata"]["generation"] for p, o in server.objects.items()}
        server.requests.clear()
        again = Deployer(config, server.client(), images(), progress=lambda _l: None,
                         clock=lambda: 1_793_999_999.0).deploy()
    assert first.seed_values == again.seed_values == values
    assert again.grafana_auth == first.grafana_auth and not server.made("POST")
    assert {p: o["metadata"]["generation"] for p, o in server.objects.items()} == generations


# ---------------------------------------------------------------------------------------------
# the e2e tests' own API calls
# ---------------------------------------------------------------------------------------------

def test_ready_service_endpoints_reads_endpointslices_of_the_service() -> None:
    from tests.e2e.helpers import ready_service_endpoints
    server = FakeApiServer()
    for name, service, ready in (("a", "mytsdb", True), ("b", "mytsdb", False), ("c", "other", True)):
        server.put({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                    "metadata": {"name": name, "namespace": "mytsdb",
                                 "labels": {"kubernetes.io/service-name": service}},
                    "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": ready}}]})
    assert ready_service_endpoints(server.client(), "mytsdb", "mytsdb") == 1
    [req] = server.requests
    assert req.path == "/apis/discovery.k8s.io/v1/namespaces/mytsdb/endpointslices"
    assert req.param("labelSelector") == "kubernetes.io/service-name=mytsdb"


def test_seed_failure_copy_is_created_from_the_live_deployment() -> None:
    from tests.e2e.test_seed_failure import CLOSED_PORT, NAME, failing_copy
    server = FakeApiServer()
    live = next(d for d in docs() if d["kind"] == "Deployment" and d["metadata"]["name"] == "mytsdb")
    live["status"] = {"observedGeneration": 1, "replicas": 1}
    server.put(live)
    api = server.client()
    apps = k8s.AppsV1Api(api)
    original = apps.read_namespaced_deployment("mytsdb", "mytsdb")
    apps.create_namespaced_deployment("mytsdb", failing_copy(original, api))
    [post] = server.made("POST")
    assert post.path == "/apis/apps/v1/namespaces/mytsdb/deployments"
    body = post.body
    assert body["metadata"]["name"] == NAME and "status" not in body
    assert body["spec"]["selector"] == {"matchLabels": {"app.kubernetes.io/name": NAME}}
    seed = next(c for c in body["spec"]["template"]["spec"]["containers"] if c["name"] == "seed")
    assert seed["args"][seed["args"].index("--otlp") + 1] == CLOSED_PORT
    assert {"name": "PRESET", "value": "tiny"} in seed["env"]
    assert body["spec"]["template"]["spec"]["initContainers"][0]["name"] == "wipe"
    apps.delete_namespaced_deployment(NAME, "mytsdb", propagation_policy="Foreground")
    [delete] = server.made("DELETE")
    assert delete.path == f"/apis/apps/v1/namespaces/mytsdb/deployments/{NAME}"


def test_exec_goes_to_a_running_container_that_shares_the_volume(monkeypatch: pytest.MonkeyPatch) -> None:
    crash_looping = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s"}}
    server = seeded_cluster(crash_looping, restarts=3)
    server.exec_output = lambda pod, command, container: f"{container}: seed_started\nseed_failed\n"
    monkeypatch.setattr("kubernetes.stream.ws_client.create_websocket",
                        lambda _cfg, url, headers=None: websocket(server, url))
    look = ExecInRunning(k8s.CoreV1Api(server.client()), "mytsdb-7d9c-abcde", "mytsdb", ["seed", "mytsdb"],
                         "ls -1 /ready")
    Wait(look).with_timeout(5).with_progress(lambda _line: None).until_ready()
    assert look.output == "mytsdb: seed_started\nseed_failed\n"
    [ws] = [r for r in server.requests if r.method == "WS"]
    assert dict(ws.query)["container"] == "mytsdb"
    assert [v for k, v in ws.query if k == "command"] == ["/bin/sh", "-c", "ls -1 /ready"]
    k8s.CoreV1Api(server.client()).delete_namespaced_pod("mytsdb-7d9c-abcde", "mytsdb")  # test_clean_start
    [delete] = server.made("DELETE")
    assert delete.path == "/api/v1/namespaces/mytsdb/pods/mytsdb-7d9c-abcde"


def test_a_terminating_namespace_is_waited_for_and_a_rejected_apply_is_one_line() -> None:
    server = FakeApiServer()
    server.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "mytsdb"},
                "status": {"phase": "Terminating"}})
    probe = NamespacesActive(k8s.CoreV1Api(server.client()), ["mytsdb"])
    assert probe.check() == "mytsdb is Terminating"
    server.objects["/api/v1/namespaces/mytsdb"]["status"]["phase"] = "Active"
    assert probe.check() is None
    message = "unable to create new content in namespace mytsdb because it is being terminated"
    forbidden = (403, status_body(403, "Forbidden", message))
    server.reject = lambda req: forbidden if "/namespaces/mytsdb/" in req.path else None
    with pytest.raises(StackStartError) as err:
        ka.apply_documents(DynamicClient(server.client()), docs())
    assert str(err.value).startswith("server-side apply of ") and "/mytsdb/" in str(err.value)
    assert str(err.value).endswith(f"failed: 403 Forbidden: {message}") and "\n" not in str(err.value)


def test_a_forbidden_secret_read_stops_the_deploy_with_one_line() -> None:
    server = FakeApiServer(on_apply=rolled_out)
    denied = (403, status_body(403, "Forbidden", 'secrets "grafana-admin" is forbidden: User "ci" cannot get '
                                             'resource "secrets" in the namespace "grafana"'))
    server.reject = lambda req: denied if "/secrets/" in req.path else None
    with pytest.raises(StackStartError) as err:
        Deployer(CONFIG, server.client(), images(), progress=lambda _l: None).deploy()
    prefix = "a Kubernetes API request failed while deploying: 403 Forbidden: "
    assert str(err.value) == prefix + denied[1]["message"]
