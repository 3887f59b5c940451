"""Cross-reference checks: the manifests fit together, and each check catches what it is for."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from fixtures.checks.manifests import ALL_CHECKS, Doc, container, find, load_manifests
from fixtures.checks.seed_gate import SEED_CHECKS

CHECKS = (*ALL_CHECKS, *SEED_CHECKS)
DOCS = load_manifests()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
def test_manifests_pass(check: Callable[[list[Doc]], list[str]]) -> None:
    problems = check(DOCS)
    assert not problems, "\n".join(problems)


def _pod(docs: list[Doc], name: str, ns: str = "mytsdb") -> dict[str, Any]:
    d = find(docs, "Deployment", name, ns)
    assert d is not None
    return d.obj["spec"]["template"]["spec"]


def _drop(docs: list[Doc], kind: str, name: str) -> None:
    docs[:] = [d for d in docs if not (d.kind == kind and d.name == name)]


def _set_ready_exec(docs: list[Doc], cmd: list[str]) -> None:
    container(_pod(docs, "mytsdb"), "mytsdb")["readinessProbe"] = {"exec": {"command": cmd}}


# (check, mutation, expected fragment of one problem line)
BREAKAGES: list[tuple[Callable[..., list[str]], Callable[[list[Doc]], Any], str]] = [
    (
        CHECKS[0],
        lambda d: (
            find(d, "Service", "mytsdb-nodeport")
            .obj["spec"]["selector"]
            .update({"app.kubernetes.io/name": "mytsbd"})
        ),
        "matches no pod template",
    ),
    (
        CHECKS[0],
        lambda d: find(d, "Service", "grafana").obj["spec"]["ports"][0].update({"targetPort": "web"}),
        "targetPort 'web'",
    ),
    (
        CHECKS[1],
        lambda d: _drop(d, "ConfigMap", "grafana-dashboard-k8s-seeded"),
        "ConfigMap grafana-dashboard-k8s-seeded does not exist",
    ),
    (
        CHECKS[1],
        lambda d: find(d, "ConfigMap", "seed-spec").obj["data"].pop("END_TIME"),
        "has no key END_TIME",
    ),
    (
        CHECKS[1],
        lambda d: _pod(d, "grafana", "grafana")["volumes"][3]["secret"].update(
            {"secretName": "grafana-pass"}
        ),
        "Secret grafana-pass",
    ),
    (
        CHECKS[1],
        lambda d: container(_pod(d, "mytsdb"), "seed")["volumeMounts"].append(
            {"name": "scratch", "mountPath": "/scratch"}
        ),
        "unknown volume scratch",
    ),
    (
        CHECKS[1],
        lambda d: container(_pod(d, "mytsdb"), "mytsdb")["livenessProbe"]["httpGet"].update(
            {"port": "metrics"}
        ),
        "unknown port metrics",
    ),
    (CHECKS[1], lambda d: _drop(d, "ServiceAccount", "sample-app"), "ServiceAccount sample-app"),
    (CHECKS[1], lambda d: _drop(d, "Namespace", "otel"), "namespace 'otel' is not defined"),
    (
        CHECKS[2],
        lambda d: container(_pod(d, "mytsdb"), "mytsdb").update({"image": "mytsdb:latest"}),
        "is not pinned",
    ),
    (
        CHECKS[2],
        lambda d: container(_pod(d, "grafana", "grafana"), "grafana").pop("imagePullPolicy"),
        "no imagePullPolicy",
    ),
    (
        CHECKS[3],
        lambda d: find(d, "Service", "grafana").obj["spec"]["ports"][0].update({"nodePort": 31000}),
        "nodePort 31000 has no kind extraPortMapping",
    ),
    (
        CHECKS[3],
        lambda d: (
            next(x for x in d if x.kind == "Cluster")
            .obj["nodes"][0]["extraPortMappings"][0]
            .update({"listenAddress": "0.0.0.0"})
        ),
        "127.0.0.1",
    ),
    (
        CHECKS[4],
        lambda d: (
            next(x for x in d if x.kind == "Kustomization")
            .obj["resources"]
            .remove("mytsdb/service-nodeport.yaml")
        ),
        "service-nodeport.yaml: holds Kubernetes objects but is not listed",
    ),
    (SEED_CHECKS[0], lambda d: _set_ready_exec(d, ["true"]), "readinessProbe must be exec"),
    (
        SEED_CHECKS[0],
        lambda d: container(_pod(d, "mytsdb"), "seed")["args"].remove("--ready-file"),
        "--ready-file /ready/seed_done",
    ),
    (
        SEED_CHECKS[1],
        lambda d: _pod(d, "mytsdb")["initContainers"][0].update(
            {"command": ["/bin/sh", "-c", "find /data -mindepth 1 -delete"]}
        ),
        "content of /ready",
    ),
    (
        SEED_CHECKS[1],
        lambda d: _pod(d, "mytsdb")["initContainers"][0]["volumeMounts"].pop(),
        "does not mount volume ready",
    ),
    (
        SEED_CHECKS[2],
        lambda d: _pod(d, "mytsdb")["volumes"][0].update(
            {"emptyDir": None, "persistentVolumeClaim": {"claimName": "x"}}
        ),
        "volume data must be an emptyDir",
    ),
    (
        SEED_CHECKS[3],
        lambda d: container(_pod(d, "mytsdb"), "seed").update(
            {"command": ["python", "-m", "seeder"], "args": []}
        ),
        "must run /seed-once/seed-once.sh",
    ),
    (
        SEED_CHECKS[3],
        lambda d: container(_pod(d, "mytsdb"), "seed").update(
            {"livenessProbe": {"exec": {"command": ["test", "-f", "/ready/seed_done"]}}}
        ),
        "liveness must fail only",
    ),
    (
        SEED_CHECKS[3],
        lambda d: find(d, "Deployment", "mytsdb").obj["spec"].update({"strategy": {"type": "RollingUpdate"}}),
        "Recreate",
    ),
    (
        SEED_CHECKS[4],
        lambda d: container(_pod(d, "reference-prometheus"), "seed-openmetrics")["env"][1].update(
            {"value": "7", "valueFrom": None}
        ),
        "must read SEED from ConfigMap seed-spec",
    ),
    (
        SEED_CHECKS[4],
        lambda d: container(_pod(d, "mytsdb"), "seed")["args"].__setitem__(
            container(_pod(d, "mytsdb"), "seed")["args"].index("$(END_TIME)"), "now"
        ),
        "--end-time $(END_TIME)",
    ),
    (SEED_CHECKS[5], lambda d: _drop(d, "Service", "mytsdb-nodeport"), "mytsdb-nodeport of type NodePort"),
]


@pytest.mark.parametrize(
    ("check", "mutate", "expected"), BREAKAGES, ids=[f"{c.__name__}:{e}" for c, _, e in BREAKAGES]
)
def test_check_catches_breakage(
    check: Callable[[list[Doc]], list[str]], mutate: Callable[[list[Doc]], Any], expected: str
) -> None:
    docs = copy.deepcopy(DOCS)
    mutate(docs)
    problems = check(docs)
    assert any(expected in p for p in problems), f"expected a problem containing {expected!r}, got {problems}"


def test_every_check_has_a_breakage_test() -> None:
    assert {c for c, _, _ in BREAKAGES} == set(CHECKS)


# ---------------------------------------------------------------------------------------------
# configs inside ConfigMaps
# ---------------------------------------------------------------------------------------------


def _data(name: str, ns: str) -> dict[str, str]:
    cm = find(DOCS, "ConfigMap", name, ns)
    assert cm is not None, f"ConfigMap {ns}/{name} missing"
    return cm.obj["data"]


def test_collector_pipeline_forwards_otlp_to_mytsdb() -> None:
    config = yaml.safe_load(_data("otel-collector", "otel")["config.yaml"])
    pipeline = config["service"]["pipelines"]["metrics"]
    for section, names in (
        ("receivers", pipeline["receivers"]),
        ("processors", pipeline["processors"]),
        ("exporters", pipeline["exporters"]),
        ("extensions", config["service"]["extensions"]),
    ):
        missing = set(names) - set(config[section])
        assert not missing, f"pipeline uses undefined {section}: {missing}"
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:4317" and protocols["http"]["endpoint"] == "0.0.0.0:4318"
    exporter = config["exporters"]["otlp_grpc"]
    assert exporter == {"endpoint": "mytsdb.mytsdb.svc.cluster.local:4317", "tls": {"insecure": True}}
    assert "debug" in pipeline["exporters"]
    health = config["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1]
    probe = container(_pod(DOCS, "otel-collector", "otel"), "otel-collector")["livenessProbe"]["httpGet"][
        "port"
    ]
    ports = {
        p["name"]: p["containerPort"]
        for p in container(_pod(DOCS, "otel-collector", "otel"), "otel-collector")["ports"]
    }
    assert ports[probe] == int(health)


def test_grafana_provisioning_fits_the_deployment() -> None:
    datasources = yaml.safe_load(_data("grafana-datasources", "grafana")["datasources.yaml"])["datasources"]
    uids = {ds["uid"]: ds for ds in datasources}
    assert uids["mytsdb"]["url"] == "http://mytsdb.mytsdb.svc.cluster.local:9090"
    assert uids["reference"]["url"] == "http://reference-prometheus.mytsdb.svc.cluster.local:9090"
    for ds in datasources:
        assert ds["jsonData"]["prometheusType"] == "Prometheus" and ds["jsonData"]["prometheusVersion"]
    provider = yaml.safe_load(_data("grafana-dashboard-provider", "grafana")["dashboards.yaml"])["providers"][
        0
    ]
    grafana = container(_pod(DOCS, "grafana", "grafana"), "grafana")
    mounts = {m["name"]: m["mountPath"] for m in grafana["volumeMounts"]}
    assert provider["options"]["path"] == mounts["dashboards"]
    assert mounts["datasources"] == "/etc/grafana/provisioning/datasources"
    assert mounts["dashboard-provider"] == "/etc/grafana/provisioning/dashboards"
    env = {e["name"]: e.get("value") for e in grafana["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD__FILE"] == f"{mounts['admin']}/admin-password"
    assert env["GF_SECURITY_ADMIN_USER__FILE"] == f"{mounts['admin']}/admin-user"
    home = env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.rsplit("/", 1)[1] in _data("grafana-dashboard-k8s-seeded", "grafana")
