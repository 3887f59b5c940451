"""Seed-gated readiness and clean start, observed while a fresh MyTSDB pod reseeds.

One expensive action (delete the pod) feeds several checks: while the seed runs the pod is not
Ready and the Service has no ready endpoint; the pod turns Ready only after the ready file exists;
the new pod starts from an empty data dir, seeds once and holds the same series again.

A small seed can finish between two polls, so "not Ready while seeding" is not judged from polls
alone: the pod's own timeline decides it. seed-once.sh writes /ready/seed_started before the seed
and the seeder writes /ready/seed_done after it; the kubelet stamps the Ready condition's
transition. All three come from the node's one clock, so Ready turning True no earlier than
seed_done (to the second, the coarser of the two) means the pod was never Ready mid-seed. The polls
add what a timeline cannot show: every look before the ready file existed saw no ready endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from kubernetes import client as k8s

from fixtures.cluster_plugin import Cluster
from fixtures.common.config import HarnessConfig
from fixtures.common.wait import Wait
from fixtures.kube.readiness import DeploymentReady
from fixtures.promql.client import PromClient
from fixtures.stacks.kube_deploy import SEED_CONTAINER, SEEDED_DEPLOYMENT
from tests.e2e.helpers import (
    Answers,
    count_series,
    exec_in,
    file_exists,
    live_pods,
    main_slice_series,
    pod_ready,
    ready_service_endpoints,
)

pytestmark = [pytest.mark.cluster, pytest.mark.disruptive]
READY_FILE = "/ready/seed_done"
STARTED_FILE = "/ready/seed_started"
SERVICE = "mytsdb"
SERVICE_ROUTE_TIMEOUT_S = 60  # kube-proxy syncs a changed endpoint within seconds


@dataclass(frozen=True)
class Sample:
    """One look at the new pod: readiness first, then the ready file, then the Service."""

    pod: str
    ready: bool
    seed_done: bool | None  # None: the seed container was not running, so nothing to look into
    ready_endpoints: int


class Observer:
    """Probe that waits for the Deployment like the harness does and records a Sample per check."""

    def __init__(self, cluster: Cluster, old_pod: str) -> None:
        self.cluster, self.old_pod, self.samples = cluster, old_pod, []
        self.inner = DeploymentReady(cluster.core, cluster.apps, cluster.namespace, SEEDED_DEPLOYMENT)
        self.description = f"a new {SEEDED_DEPLOYMENT} pod seeded and Ready"

    def check(self) -> str | None:
        for pod in live_pods(self.inner.pods()):
            if pod.metadata.name != self.old_pod:
                self.samples.append(self.sample(pod))
        reason = self.inner.check()
        if reason is None and not any(s.ready for s in self.samples):
            return "Deployment Ready but no Ready sample of the new pod recorded yet"
        return reason

    def sample(self, pod: k8s.V1Pod) -> Sample:
        ready = pod_ready(pod)  # read before the file: the file never disappears inside one pod
        running = any(s.name == SEED_CONTAINER and s.state and s.state.running
                      for s in pod.status.container_statuses or [])
        done = file_exists(self.cluster.core, pod.metadata.name, self.cluster.namespace, SEED_CONTAINER,
                           READY_FILE) if running else None
        return Sample(pod.metadata.name, ready, done,
                      ready_service_endpoints(self.cluster.api, self.cluster.namespace, SERVICE))

    def details(self) -> str:
        return self.inner.details()


@dataclass(frozen=True)
class Restart:
    old_pod: str
    new_pod: k8s.V1Pod
    samples: list[Sample]


@pytest.fixture(scope="module")
def restarted(cluster: Cluster, harness_config: HarnessConfig, target: PromClient) -> Restart:
    """Delete the pod, watch the new one seed and turn Ready, then reach it through the Service."""
    probe = DeploymentReady(cluster.core, cluster.apps, cluster.namespace, SEEDED_DEPLOYMENT)
    [old] = live_pods(probe.pods())
    cluster.core.delete_namespaced_pod(old.metadata.name, cluster.namespace)
    observer = Observer(cluster, old.metadata.name)
    Wait(observer).with_timeout(harness_config.ready_timeout).with_backoff(0.2, 2.0).until_ready()
    [new] = live_pods(probe.pods())
    target.drop_connections()  # they led to the deleted pod
    Wait(Answers(f"{target.base_url}/health", "the new pod's /health through the Service")).with_timeout(
        SERVICE_ROUTE_TIMEOUT_S).with_backoff(0.2, 1.0).until_ready()
    return Restart(old.metadata.name, new, observer.samples)


@dataclass(frozen=True)
class Timeline:
    """Whole seconds on the node's clock: seed started, seed done, pod Ready."""

    seed_started: int
    seed_done: int
    ready_since: int


def ready_since(pod: k8s.V1Pod) -> int:
    [ready] = [c for c in pod.status.conditions or [] if c.type == "Ready"]
    assert ready.status == "True", f"the new pod is not Ready: {ready}"
    return int(ready.last_transition_time.timestamp())


@pytest.fixture(scope="module")
def timeline(cluster: Cluster, restarted: Restart) -> Timeline:
    pod = restarted.new_pod.metadata.name
    out = exec_in(cluster.core, pod, cluster.namespace, SEED_CONTAINER,
                  f"stat -c %Y {STARTED_FILE} {READY_FILE}")
    started, done = (int(v) for v in out.split())
    return Timeline(started, done, ready_since(restarted.new_pod))


def test_not_ready_and_no_endpoint_while_seeding(restarted: Restart, timeline: Timeline) -> None:
    assert timeline.seed_started <= timeline.seed_done, f"seed_done older than seed_started: {timeline}"
    assert timeline.ready_since >= timeline.seed_done, f"Ready before the seed finished: {timeline}"
    unseeded = [s for s in restarted.samples if s.seed_done is not True]
    assert not [s for s in unseeded if s.ready], f"Ready before the ready file existed: {unseeded}"
    assert not [s for s in unseeded if s.ready_endpoints], f"ready endpoint mid-seed: {unseeded}"


def test_ready_only_after_the_ready_file(restarted: Restart) -> None:
    ready = [s for s in restarted.samples if s.ready]
    assert ready, "the new pod never turned Ready while observed"
    assert all(s.seed_done for s in ready), f"Ready without {READY_FILE}: {ready}"


def test_new_pod_starts_empty_and_seeds_once(cluster: Cluster, restarted: Restart) -> None:
    new = restarted.new_pod
    assert new.metadata.name != restarted.old_pod
    seed = [s for s in new.status.container_statuses or [] if s.name == SEED_CONTAINER]
    assert seed and seed[0].restart_count == 0, "the seed sidecar restarted: it may have seeded twice"
    wipe_log = cluster.core.read_namespaced_pod_log(new.metadata.name, cluster.namespace, container="wipe")
    assert "wiped" in wipe_log, f"the wipe initContainer did not report wiping: {wipe_log!r}"
    markers = exec_in(cluster.core, new.metadata.name, cluster.namespace, SEED_CONTAINER, "ls -1 /ready")
    assert "seed_failed" not in markers.split(), f"/ready holds: {markers.split()}"


def test_the_reseeded_store_holds_the_same_series_again(cluster: Cluster, restarted: Restart,
                                                         target: PromClient) -> None:
    manifest = cluster.endpoints.manifest
    wrong = {m: (count_series(target, m, manifest), main_slice_series(manifest, m)) for m in manifest.metrics}
    wrong = {m: c for m, c in wrong.items() if c[0] != c[1]}
    assert not wrong, f"series per metric (MyTSDB, manifest) after the clean start: {wrong}"
