"""Seed failure: a seed that fails leaves the pod not Ready and never seeds twice into one store.

A copy of the MyTSDB Deployment (own name and labels, so no Service selects it) seeds the tiny
preset with its OTLP sink pointed at a closed port: the seed fails, the sidecar restarts, and
seed-once must refuse to seed again. The harness's own fast-fail classification must flag it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from fixtures.cluster_plugin import Cluster
from fixtures.common.errors import WaitAborted
from fixtures.common.wait import Wait
from fixtures.kube.readiness import DeploymentReady, classify_pod
from fixtures.stacks.kube_deploy import SEED_CONTAINER, SEEDED_DEPLOYMENT
from tests.e2e.helpers import ExecInRunning, live_pods, pod_ready

pytestmark = [pytest.mark.cluster, pytest.mark.disruptive]
NAME = "mytsdb-seedfail"
CLOSED_PORT = "127.0.0.1:9"  # discard port: nothing listens in the pod
REFUSAL = "refusing to seed twice"


def failing_copy(original: k8s.V1Deployment, api: k8s.ApiClient) -> dict:
    """The live Deployment as a dict, renamed, relabelled, tiny preset, OTLP sink unreachable."""
    body = copy.deepcopy(api.sanitize_for_serialization(original))
    body["metadata"] = {"name": NAME, "namespace": original.metadata.namespace,
                        "labels": {"app.kubernetes.io/name": NAME}}
    body.pop("status", None)
    body["spec"]["selector"] = {"matchLabels": {"app.kubernetes.io/name": NAME}}
    body["spec"]["template"]["metadata"]["labels"] = {"app.kubernetes.io/name": NAME}
    [seed] = [c for c in body["spec"]["template"]["spec"]["containers"] if c["name"] == SEED_CONTAINER]
    seed["env"] = [e for e in seed["env"] if e["name"] != "PRESET"] + [{"name": "PRESET", "value": "tiny"}]
    args = seed["args"]
    args[args.index("--otlp") + 1] = CLOSED_PORT
    for container in body["spec"]["template"]["spec"]["containers"]:
        # small requests: the copy must schedule next to the seeded stack on a laptop-sized node
        container.setdefault("resources", {})["requests"] = {"cpu": "50m", "memory": "128Mi"}
    return body


class SeedRefused:
    """Probe: the copy's seed sidecar has restarted and refused to seed again."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster, self.pod = cluster, None
        self.inner = DeploymentReady(cluster.core, cluster.apps, cluster.namespace, NAME)
        self.description = f"the {NAME} seed sidecar to fail and refuse a second seed"
        self.ready_seen = False

    def check(self) -> str | None:
        pods = live_pods(self.inner.pods())
        if len(pods) != 1:
            return f"{len(pods)} pods"
        self.pod = pods[0]
        self.ready_seen |= pod_ready(self.pod)
        seed = [s for s in self.pod.status.container_statuses or [] if s.name == SEED_CONTAINER]
        if not seed or seed[0].restart_count < 1:
            return "seed sidecar has not restarted yet"
        log = self.cluster.core.read_namespaced_pod_log(self.pod.metadata.name, self.cluster.namespace,
                                                        container=SEED_CONTAINER, tail_lines=20)
        return None if REFUSAL in log else "no refusal in the restarted sidecar's log yet"

    def details(self) -> str:
        return self.inner.details()


class Gone:
    """Probe: a leftover copy from an interrupted earlier run (reused cluster) has been deleted."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster, self.description = cluster, f"leftover Deployment {NAME} deleted"

    def check(self) -> str | None:
        try:
            self.cluster.apps.read_namespaced_deployment(NAME, self.cluster.namespace)
        except k8s.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return "still present"

    def details(self) -> str:
        return ""


def delete_copy(cluster: Cluster) -> None:
    try:
        cluster.apps.delete_namespaced_deployment(NAME, cluster.namespace, propagation_policy="Foreground")
    except k8s.ApiException as exc:
        if exc.status != 404:
            raise
    Wait(Gone(cluster)).with_timeout(120).with_backoff(0.5, 2.0).until_ready()


@pytest.fixture(scope="module")
def failed_pod(cluster: Cluster) -> Iterator[tuple[k8s.V1Pod, SeedRefused]]:
    delete_copy(cluster)  # clean up leftovers first
    original = cluster.apps.read_namespaced_deployment(SEEDED_DEPLOYMENT, cluster.namespace)
    cluster.apps.create_namespaced_deployment(cluster.namespace, failing_copy(original, cluster.api))
    try:
        probe = SeedRefused(cluster)
        Wait(probe).with_timeout(600).with_backoff(1.0, 5.0).until_ready()
        assert probe.pod is not None
        yield probe.pod, probe
    finally:
        delete_copy(cluster)


def test_failed_seed_leaves_the_pod_not_ready(failed_pod: tuple[k8s.V1Pod, SeedRefused]) -> None:
    pod, probe = failed_pod
    assert not probe.ready_seen and not pod_ready(pod)


def test_failed_seed_never_seeds_twice(cluster: Cluster, failed_pod: tuple[k8s.V1Pod, SeedRefused]) -> None:
    pod, _ = failed_pod
    # The seed sidecar is crash-looping (rarely running): look through the mytsdb container,
    # which mounts the same /ready volume, whenever the sidecar is down.
    look = ExecInRunning(cluster.core, pod.metadata.name, cluster.namespace, [SEED_CONTAINER, "mytsdb"],
                         "ls -1 /ready; echo ---; cat /ready/seed_failed")
    Wait(look).with_timeout(120).with_backoff(0.5, 2.0).until_ready()
    listing, _, reason = look.output.partition("\n---\n")
    markers = listing.split("\n")
    assert "seed_started" in markers and "seed_failed" in markers and "seed_done" not in markers
    assert reason.strip(), "seed_failed must say why the seed of this pod failed"
    first = cluster.core.read_namespaced_pod_log(pod.metadata.name, cluster.namespace,
                                                 container=SEED_CONTAINER, previous=True)
    if first.startswith("unable to retrieve container logs"):
        # The kubelet already removed the earlier run's log (a crash loop restarts it quickly): the
        # marker it wrote above is the evidence, and the run now up must refuse to seed again.
        first = cluster.core.read_namespaced_pod_log(pod.metadata.name, cluster.namespace,
                                                     container=SEED_CONTAINER)
        assert REFUSAL in first, f"current sidecar run: {first[-500:]!r}"
    assert "seed failed" in first or REFUSAL in first, f"previous sidecar run: {first[-500:]!r}"


class Flagged:
    """Probe: the harness's readiness wait for the copy aborts (the crash loop is between restarts
    only briefly Running, so this waits for the next look that sees it)."""

    def __init__(self, cluster: Cluster) -> None:
        self.inner = DeploymentReady(cluster.core, cluster.apps, cluster.namespace, NAME)
        self.description, self.aborted = f"the readiness wait for {NAME} to abort", ""

    def check(self) -> str | None:
        try:
            reason = self.inner.check()
        except WaitAborted as exc:
            self.aborted = str(exc)
            return None
        return f"not flagged yet: {reason}"

    def details(self) -> str:
        return self.inner.details()


def test_the_harness_classifies_it_as_a_failure(cluster: Cluster,
                                                failed_pod: tuple[k8s.V1Pod, SeedRefused]) -> None:
    probe = Flagged(cluster)
    Wait(probe).with_timeout(120).with_backoff(0.5, 2.0).until_ready()
    assert f"container {SEED_CONTAINER}:" in probe.aborted and REFUSAL in probe.aborted
    pod = cluster.core.read_namespaced_pod(failed_pod[0].metadata.name, cluster.namespace)
    assert {f.container for f in classify_pod(pod)} <= {SEED_CONTAINER}
