"""Test doubles of the cluster area's unit tests, at the subprocess and API boundary only.

``FakeRunner`` replaces :class:`fixtures.common.commands.Runner`: it answers commands from a script of
(argv prefix -> result) and records every call, so the real decision logic above it runs
unchanged. Unscripted commands fail loudly (exit 127), like a missing tool would.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kubernetes import client as k8s

from fixtures.common.commands import CommandResult, Runner


class FakeRunner(Runner):
    """Scripted answers per argv prefix (the longest matching prefix wins); records calls."""

    def __init__(self, script: dict[tuple[str, ...], tuple[int, str] | list[tuple[int, str]]] | None = None):
        self.script = dict(script or {})
        self.calls: list[tuple[str, ...]] = []

    def run(self, args: Sequence[str], *, timeout: float, env: object = None,
            log_file: Path | None = None) -> CommandResult:
        argv = tuple(str(a) for a in args)
        self.calls.append(argv)
        matches = [p for p in self.script if argv[: len(p)] == p]
        if not matches:
            return CommandResult(argv, 127, "", f"{argv[0]}: not scripted in this test")
        answer = self.script[max(matches, key=len)]
        if isinstance(answer, list):  # successive answers for repeated calls
            code, out = answer.pop(0) if len(answer) > 1 else answer[0]
        else:
            code, out = answer
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            log_file.write_text(out)
        return CommandResult(argv, code, out, "")

    def called(self, *prefix: str) -> list[tuple[str, ...]]:
        """The recorded calls starting with ``prefix``."""
        return [c for c in self.calls if c[: len(prefix)] == prefix]


def pod(name: str = "mytsdb-0", *, phase: str = "Running", init: list[k8s.V1ContainerStatus] | None = None,
        containers: list[k8s.V1ContainerStatus] | None = None, deleting: bool = False,
        namespace: str = "mytsdb", reason: str | None = None) -> k8s.V1Pod:
    """A V1Pod as the API returns it, with the given container statuses."""
    statuses = containers if containers is not None else [status("mytsdb")]
    inits = init or []
    return k8s.V1Pod(
        metadata=k8s.V1ObjectMeta(name=name, namespace=namespace,
                                  deletion_timestamp="2026-11-01T00:00:00Z" if deleting else None),
        spec=k8s.V1PodSpec(init_containers=[k8s.V1Container(name=s.name) for s in inits] or None,
                           containers=[k8s.V1Container(name=s.name) for s in statuses]),
        status=k8s.V1PodStatus(phase=phase, reason=reason, init_container_statuses=inits or None,
                               container_statuses=statuses))


def status(name: str, *, ready: bool = False, running: bool = True, waiting: str | None = None,
           terminated: tuple[str, int] | None = None, last_terminated: tuple[str, int] | None = None,
           restarts: int = 0) -> k8s.V1ContainerStatus:
    """A V1ContainerStatus: running, waiting(reason) or terminated(reason, exit code)."""
    if waiting:
        waiting_state = k8s.V1ContainerStateWaiting(reason=waiting, message=f"{waiting} msg")
        state = k8s.V1ContainerState(waiting=waiting_state)
    elif terminated:
        state = k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(
            reason=terminated[0], exit_code=terminated[1]))
    else:
        state = k8s.V1ContainerState(running=k8s.V1ContainerStateRunning() if running else None)
    last = None
    if last_terminated:
        last = k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(
            reason=last_terminated[0], exit_code=last_terminated[1]))
    return k8s.V1ContainerStatus(name=name, ready=ready, state=state, last_state=last, restart_count=restarts,
                                 image="img", image_id="", started=running)
