"""Readiness evaluation from recorded kubernetes objects, and the one wait loop."""

from __future__ import annotations

import io

import pytest
from kubernetes import client as k8s

from fixtures.common.errors import WaitAborted, WaitTimeout
from fixtures.common.wait import Wait
from fixtures.kube.readiness import (
    AllReady,
    DeploymentReady,
    classify_pod,
    deployment_not_ready,
    parse_seed_progress,
    seed_container,
)
from seeder.progress import Progress
from tests.unit.support.cluster import pod, status


@pytest.mark.parametrize(("statuses", "reason"), [
    ([status("mytsdb", waiting="ImagePullBackOff")], "ImagePullBackOff"),
    ([status("seed", waiting="CrashLoopBackOff", restarts=3)], "CrashLoopBackOff"),
    ([status("seed", terminated=("Error", 1))], "Error"),
    ([status("mytsdb", terminated=("OOMKilled", 137))], "OOMKilled"),
    ([status("mytsdb", last_terminated=("OOMKilled", 137), restarts=1)], "OOMKilled"),
    ([status("mytsdb", waiting="CreateContainerConfigError")], "CreateContainerConfigError"),
])
def test_states_that_never_heal_are_failures(statuses: list[k8s.V1ContainerStatus], reason: str) -> None:
    [failure] = classify_pod(pod(containers=statuses))
    assert failure.reason == reason and failure.container == statuses[0].name
    assert reason in failure.line()


@pytest.mark.parametrize("statuses", [
    [status("mytsdb", running=True)],                      # seeding: running, not ready
    [status("mytsdb", waiting="ContainerCreating")],
    [status("mytsdb", waiting="ErrImagePull")],             # the kubelet still retries the pull
    [status("mytsdb", ready=True), status("seed", ready=True)],
    [status("mytsdb", last_terminated=("Error", 1), restarts=1)],  # earlier crash, running again
])
def test_states_that_may_still_become_ready_are_not_failures(statuses: list[k8s.V1ContainerStatus]) -> None:
    assert classify_pod(pod(containers=statuses)) == []


def test_failed_init_container_and_evicted_pod_are_failures() -> None:
    init = pod(init=[status("wipe", terminated=("Error", 2))], containers=[status("mytsdb", running=False)],
               phase="Pending")
    assert [f.container for f in classify_pod(init)] == ["wipe"]
    evicted = pod(phase="Failed", reason="Evicted", containers=[status("mytsdb", running=False)])
    assert classify_pod(evicted)[0].reason == "Evicted"


def test_a_terminating_pod_is_not_a_failure() -> None:
    # SIGTERM makes containers exit non-zero while a deleted pod goes away (clean-start test).
    assert classify_pod(pod(deleting=True, containers=[status("seed", terminated=("Error", 143))])) == []


def deployment(*, replicas: int = 1, generation: int = 2, observed: int = 2, updated: int = 1,
               ready: int = 1, total: int = 1) -> k8s.V1Deployment:
    return k8s.V1Deployment(
        metadata=k8s.V1ObjectMeta(name="mytsdb", namespace="mytsdb", generation=generation),
        spec=k8s.V1DeploymentSpec(replicas=replicas, selector=k8s.V1LabelSelector(
            match_labels={"app.kubernetes.io/name": "mytsdb"}), template=k8s.V1PodTemplateSpec()),
        status=k8s.V1DeploymentStatus(observed_generation=observed, updated_replicas=updated,
                                      ready_replicas=ready, replicas=total))


@pytest.mark.parametrize(("dep", "expected"), [
    (deployment(), None),
    (deployment(observed=1), "rollout not observed yet"),
    (deployment(updated=0, ready=0), "0/1 pods updated"),
    (deployment(total=2), "1 old pod(s) still terminating"),
    (deployment(ready=0), "0/1 pods Ready"),
])
def test_deployment_rollout_reasons(dep: k8s.V1Deployment, expected: str | None) -> None:
    assert deployment_not_ready(dep) == expected


def test_seed_progress_is_read_from_the_seeders_own_lines() -> None:
    out = io.StringIO()
    progress = Progress(total=2_000_000, stream=out, every=0.0, tty=False)
    progress.update(500_000)
    log = "seed-once: starting\n" + out.getvalue() + "flight: stream 3 closed\n"
    assert parse_seed_progress(log) == out.getvalue().strip()
    assert "(25%)" in out.getvalue()
    tqdm_bar = "seed:  10%|#         | 2.0M/20.5M [00:01<00:09, 2.0Msamples/s]\rseed:  20%|## | 4.1M/20.5M"
    assert parse_seed_progress(tqdm_bar) == "seed:  20%|## | 4.1M/20.5M"
    assert parse_seed_progress("wiped /data /ready\n") is None


def test_seed_container_is_found_by_name() -> None:
    p = pod(containers=[status("mytsdb"), status("seed")])
    assert seed_container(p) == "seed"
    assert seed_container(pod(containers=[status("mytsdb")])) is None


class ScriptedProbe:
    """A probe answering from a list (the last answer repeats); counts checks."""

    def __init__(self, answers: list[str | Exception | None]) -> None:
        self.answers, self.checks = answers, 0
        self.description = "scripted thing Ready"

    def check(self) -> str | None:
        answer = self.answers[min(self.checks, len(self.answers) - 1)]
        self.checks += 1
        if isinstance(answer, Exception):
            raise answer
        return answer

    def details(self) -> str:
        return "DETAILS: logs of every container"


class FakeTime:
    def __init__(self) -> None:
        self.now, self.pauses = 0.0, []

    def clock(self) -> float:
        return self.now

    def pause(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def make_wait(probe: ScriptedProbe, t: FakeTime, lines: list[str]) -> Wait:
    return Wait(probe, clock=t.clock, pause=t.pause).with_progress(lines.append).with_backoff(1.0, 4.0)


def test_wait_returns_when_ready_and_prints_only_changed_reasons() -> None:
    t, lines = FakeTime(), []
    probe = ScriptedProbe(["pending", "pending", "seed: 10%", None])
    waited = make_wait(probe, t, lines).with_timeout(60).until_ready()
    assert probe.checks == 4 and waited == sum(t.pauses)
    assert [line.split("]")[-1].strip() for line in lines[:-1]] == [
        "waiting for scripted thing Ready: pending", "waiting for scripted thing Ready: seed: 10%"]
    assert lines[-1].startswith("ready after")


def test_wait_backs_off_up_to_the_cap_and_times_out_with_everything() -> None:
    t, lines = FakeTime(), []
    with pytest.raises(WaitTimeout) as err:
        wait = make_wait(ScriptedProbe(["0/1 pods Ready"]), t, lines).with_timeout(20)
        wait.with_hint("raise it").until_ready()
    assert t.pauses[:4] == [1.0, 1.5, 2.25, 3.375] and max(t.pauses) == 4.0
    assert t.now == pytest.approx(20.0)
    text = str(err.value)
    for part in ("20s", "scripted thing Ready", "last reason: 0/1 pods Ready", "hint: raise it", "DETAILS"):
        assert part in text


def test_wait_aborts_at_once_on_a_fatal_state() -> None:
    t = FakeTime()
    probe = ScriptedProbe(["pending", WaitAborted("pod x container seed: CrashLoopBackOff")])
    with pytest.raises(WaitAborted, match="CrashLoopBackOff"):
        make_wait(probe, t, []).with_timeout(600).until_ready()
    assert probe.checks == 2 and t.now < 600


class RecordedApi:
    """Core/Apps API answering from recorded objects (the API server cannot run here)."""

    def __init__(self, dep: k8s.V1Deployment, pods: list[k8s.V1Pod], logs: dict[str, str]) -> None:
        self.dep, self.pods, self.logs, self.selectors = dep, pods, logs, []

    def read_namespaced_deployment(self, name: str, namespace: str, **_: object) -> k8s.V1Deployment:
        assert (name, namespace) == (self.dep.metadata.name, self.dep.metadata.namespace)
        return self.dep

    def list_namespaced_pod(self, namespace: str, label_selector: str = "", **_: object) -> k8s.V1PodList:
        self.selectors.append(label_selector)
        return k8s.V1PodList(items=self.pods)

    def read_namespaced_pod_log(self, name: str, namespace: str, container: str, **_: object) -> str:
        return self.logs.get(container, "")


def test_deployment_probe_reports_seed_progress_then_aborts_with_the_log() -> None:
    seeding = pod(containers=[status("mytsdb"), status("seed", ready=False)])
    api = RecordedApi(deployment(ready=0), [seeding],
                      {"seed": "seed: 5.20M/20.49M samples (25%) 8.10M samples/s ETA 1.9s\n"})
    probe = DeploymentReady(api, api, "mytsdb", "mytsdb")  # type: ignore[arg-type]
    reason = probe.check()
    assert reason is not None and reason.startswith("0/1 pods Ready") and "(25%)" in reason
    assert api.selectors[-1] == "app.kubernetes.io/name=mytsdb"
    api.pods = [pod(containers=[status("mytsdb"), status("seed", waiting="CrashLoopBackOff", restarts=2)])]
    api.logs["seed"] = "seed-once: refusing to seed twice into one store"
    with pytest.raises(WaitAborted) as err:
        probe.check()
    assert "CrashLoopBackOff" in str(err.value) and "refusing to seed twice" in str(err.value)
    api.dep = deployment()
    api.pods = [pod(containers=[status("mytsdb", ready=True), status("seed", ready=True)])]
    assert probe.check() is None
    assert AllReady([probe, probe]).check() is None
