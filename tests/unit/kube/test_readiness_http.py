"""Readiness and diagnostics reads through the real kubernetes client (HTTP layer faked).

Pods are recorded the way a kubelet reports them; the probe must read the right log (current or
previous run), events and conditions, and name why nothing is Ready.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import urllib3
from kubernetes import client as k8s

from fixtures.common.errors import WaitAborted
from fixtures.kube.access import KubeAccess
from fixtures.kube.info import api_client
from fixtures.kube.readiness import parse_seed_progress
from fixtures.stacks.kube_deploy import Deployer
from tests.unit.support.kube_http import FakeApiServer, status_body
from tests.unit.support.kube_scenarios import CONFIG, docs, probe_of, ready_pod, seeded_cluster


def test_seeding_pod_reports_the_seeders_progress_line() -> None:
    server = seeded_cluster({"running": {"startedAt": "2026-11-01T00:00:00Z"}})
    reason = probe_of(server).check()
    assert reason is not None and "0/1 pods Ready" in reason
    assert reason.endswith("seed: seed: 1.00M/4.00M samples (25%) 2.00M samples/s ETA 1.5s"), reason
    [log_req] = server.made("GET", "/log")
    assert log_req.path == "/api/v1/namespaces/mytsdb/pods/mytsdb-7d9c-abcde/log"
    assert log_req.param("container") == "seed" and log_req.param("tailLines") == "5"
    [dep_req] = server.made("GET", "/deployments/")
    assert dep_req.path == "/apis/apps/v1/namespaces/mytsdb/deployments/mytsdb"


def test_oom_killed_seed_aborts_with_the_previous_runs_log() -> None:
    server = seeded_cluster({"running": {"startedAt": "2026-11-01T00:00:09Z"}}, restarts=1)
    with pytest.raises(WaitAborted) as info:
        probe_of(server).check()
    text = str(info.value)
    assert "container seed: OOMKilled (previous run)" in text and "Killed" in text
    [log_req] = server.made("GET", "/log")
    assert log_req.param("previous") == "true" and log_req.param("container") == "seed"


def test_crash_loop_aborts_with_the_containers_log() -> None:
    waiting = {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}}
    server = seeded_cluster(waiting, restarts=1)
    with pytest.raises(WaitAborted, match="container seed: CrashLoopBackOff: back-off 10s"):
        probe_of(server).check()


def test_timeout_details_hold_every_containers_log_events_and_conditions() -> None:
    server = seeded_cluster({"running": {"startedAt": "2026-11-01T00:00:00Z"}}, restarts=1)
    details = probe_of(server).details()
    for expected in ("--- log of init container wipe ---", "wiped /data /ready",
                     "--- log of main container mytsdb ---", "--- log of main container seed ---",
                     "--- log of the previous run of seed ---", "Killed",
                     "Ready=False (ContainersNotReady containers with unready status: [mytsdb seed])",
                     "Warning BackOff Pod/mytsdb-7d9c-abcde: Back-off restarting failed container seed"):
        assert expected in details, expected
    [events] = server.made("GET", "/events")
    assert events.param("fieldSelector") == "involvedObject.name=mytsdb-7d9c-abcde"


def test_no_pods_says_why_and_unschedulable_pods_say_so() -> None:
    server = FakeApiServer()
    dep = next(d for d in docs() if d["kind"] == "Deployment" and d["metadata"]["name"] == "mytsdb")
    dep["status"] = {"observedGeneration": 1, "conditions": [
        {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
         "message": 'pods "mytsdb-1" is forbidden: error looking up service account mytsdb/mytsdb'}]}
    server.put(dep)
    server.put({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "rs.1", "namespace": "mytsdb"},
                "involvedObject": {"kind": "ReplicaSet", "name": "mytsdb-7d9c"}, "type": "Warning",
                "reason": "FailedCreate", "message": "error looking up service account mytsdb/mytsdb"})
    probe = probe_of(server)
    reason = probe.check()
    assert reason is not None and "no pods yet (FailedCreate: pods " in reason
    details = probe.details()
    assert "ReplicaFailure=True (FailedCreate" in details
    assert "Warning FailedCreate ReplicaSet/mytsdb-7d9c: error looking up service account" in details
    pod = ready_pod(dep)
    pod["status"] = {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/1 nodes are available: 1 Insufficient cpu."}]}
    server.put(pod)
    reason = probe.check()
    assert reason is not None and "Pending: no container started yet (Unschedulable: 0/1 nodes are " \
        "available: 1 Insufficient cpu.)" in reason


def test_a_leftover_evicted_pod_neither_aborts_a_ready_deployment_nor_is_the_seeded_pod() -> None:
    server = seeded_cluster({"running": {"startedAt": "2026-11-01T00:00:00Z"}}, ready=True)
    dep = next(d for d in docs() if d["kind"] == "Deployment" and d["metadata"]["name"] == "mytsdb")
    evicted = ready_pod(dep)
    evicted["metadata"]["name"] = "mytsdb-old-evicted"
    evicted["status"] = {"phase": "Failed", "reason": "Evicted",
                         "message": "Pod ephemeral local storage usage exceeds the total limit"}
    server.put(evicted)
    assert probe_of(server).check() is None
    deployer = Deployer(CONFIG, server.client(), {})
    assert deployer.seeded_pod().metadata.name == "mytsdb-7d9c-abcde"
    server.objects[next(p for p in server.objects if p.endswith("/deployments/mytsdb"))]["status"][
        "readyReplicas"] = 0
    with pytest.raises(WaitAborted, match="pod mytsdb-old-evicted container -: Evicted"):
        probe_of(server).check()


def test_the_seeders_real_stderr_is_read_as_progress() -> None:
    proc = subprocess.run([sys.executable, "-m", "seeder", "--preset", "tiny", "--null"], capture_output=True,
                          text=True, timeout=120, check=True)
    log = "seed-once: starting\n" + proc.stderr + "seed-once: seed complete; idling\n"
    progress = parse_seed_progress(log)
    assert progress is not None and progress.startswith("seed: done ") and "samples/s" in progress


def test_a_flaky_api_server_is_waited_out_but_a_forbidden_read_is_not() -> None:
    server = seeded_cluster({"running": {"startedAt": "2026-11-01T00:00:00Z"}})
    server.reject = lambda req: (503, status_body(503, "ServiceUnavailable", "etcd leader changed"))
    assert probe_of(server).check() == "Kubernetes API error 503 Service Unavailable"
    server.reject = lambda req: (403, status_body(403, "Forbidden", "deployments is forbidden"))
    with pytest.raises(k8s.ApiException):
        probe_of(server).check()


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "SERVER"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: kind-c, context: {cluster: c, user: u}}]
current-context: kind-c
"""


@pytest.mark.parametrize(("server", "proxied"), [("https://127.0.0.1:41234", False),
                                                  ("https://api.example.test:6443", True)])
def test_a_kind_api_server_on_loopback_bypasses_the_environment_proxy(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: str, proxied: bool) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp.test:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG.replace("SERVER", server))
    api = api_client(KubeAccess(kubeconfig, "kind-c"))
    assert api.configuration.host == server
    assert (api.configuration.proxy == "http://proxy.corp.test:3128") is proxied
    assert isinstance(api.rest_client.pool_manager, urllib3.ProxyManager) is proxied
