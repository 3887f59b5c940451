"""Cluster scenarios for the HTTP-level tests: the real manifests, pods as a kubelet reports them.

Used with :mod:`kube_http_fake`; nothing here talks to a network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from fixtures.common.config import HarnessConfig
from fixtures.kube import apply as ka
from fixtures.kube.readiness import DeploymentReady
from fixtures.stacks.kube_deploy import manifests_dir, pinned_images
from tests.unit.support.kube_http import FakeApiServer
from tests.unit.support.kube_ws import FakeWebSocket

ROOT = Path(__file__).resolve().parents[3]
CONFIG = HarnessConfig(rootdir=ROOT, seed_preset="tiny", seed_end_time="1793491200", ready_timeout=30)


def images() -> dict[str, str]:
    pins = pinned_images(CONFIG)
    return {ka.split_repository(pins[n]): f"{ka.split_repository(pins[n])}:h-0123456789abcdef"
            for n in ("mytsdb", "seeder", "sample-app")}


def docs() -> list[ka.Doc]:
    values = {"PRESET": "tiny", "SEED": "42", "END_TIME": "1793491200"}
    return ka.substitute(ka.load_documents(manifests_dir(CONFIG)), ka.Substitutions(images(), values))


def ready_pod(deployment: dict[str, Any]) -> dict[str, Any]:
    """The pod a ReplicaSet would make for ``deployment``, Ready, as the API returns it."""
    template, meta = deployment["spec"]["template"], deployment["metadata"]
    spec = template["spec"]
    running = {"running": {"startedAt": "2026-11-01T00:00:00Z"}}
    statuses = [{"name": c["name"], "ready": True, "restartCount": 0, "image": c["image"], "imageID": "",
                 "state": running} for c in spec["containers"]]
    inits = [{"name": c["name"], "ready": True, "restartCount": 0, "image": c["image"], "imageID": "",
              "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
             for c in spec.get("initContainers") or []]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"{meta['name']}-7d9c-abcde", "namespace": meta["namespace"],
                         "labels": dict(template["metadata"]["labels"])},
            "spec": spec, "status": {"phase": "Running", "containerStatuses": statuses,
                                     "initContainerStatuses": inits or None,
                                     "conditions": [{"type": "Ready", "status": "True"}]}}


def rolled_out(server: FakeApiServer, obj: dict[str, Any]) -> None:
    """Play the Deployment controller and kubelet: every applied Deployment becomes Ready."""
    if obj["kind"] != "Deployment":
        return
    obj["status"] = {"observedGeneration": obj["metadata"]["generation"], "replicas": 1,
                     "updatedReplicas": 1, "readyReplicas": 1, "availableReplicas": 1}
    server.put(ready_pod(obj))


def websocket(server: FakeApiServer, url: str) -> FakeWebSocket:
    """Stands in for ``kubernetes.stream.ws_client.create_websocket``."""
    return FakeWebSocket(server, url)


def seeded_cluster(seed_state: dict[str, Any], *, restarts: int = 0, ready: bool = False) -> FakeApiServer:
    """A cluster where the mytsdb Deployment's pod has the given seed-container state."""
    server = FakeApiServer()
    dep = next(d for d in docs() if d["kind"] == "Deployment" and d["metadata"]["name"] == "mytsdb")
    dep["status"] = {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                     "readyReplicas": 1 if ready else 0}
    server.put(dep)
    pod = ready_pod(dep)
    for status in pod["status"]["containerStatuses"]:
        status["ready"] = ready
        if status["name"] == "seed":
            status.update(state=seed_state, restartCount=restarts)
            if restarts:
                status["lastState"] = {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "ContainersNotReady",
                                    "message": "containers with unready status: [mytsdb seed]"}]
    server.put(pod)
    name = pod["metadata"]["name"]
    server.logs.update({(name, "wipe", False): "wiped /data /ready\n",
                        (name, "mytsdb", False): "listening on 9090\n",
                        (name, "seed", False): "seed: 1.00M/4.00M samples (25%) 2.00M samples/s ETA 1.5s\n",
                        (name, "seed", True): "Killed\n"})
    server.put({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": f"{name}.1", "namespace": "mytsdb"},
                "involvedObject": {"kind": "Pod", "name": name}, "type": "Warning", "reason": "BackOff",
                "message": "Back-off restarting failed container seed",
                "lastTimestamp": "2026-11-01T00:00:05Z"})
    return server


def probe_of(server: FakeApiServer) -> DeploymentReady:
    api = server.client()
    return DeploymentReady(k8s.CoreV1Api(api), k8s.AppsV1Api(api), "mytsdb", "mytsdb")
