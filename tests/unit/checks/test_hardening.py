"""Hardening (issue 7), container by container, plus the NetworkPolicy flows the design needs."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from fixtures.checks.hardening import HARDENING_CHECKS, Peer, allowed
from fixtures.checks.manifests import Doc, container, find, load_manifests, workloads

DOCS = load_manifests()
CONTAINERS = [
    (d, c)
    for d, _labels, spec in workloads(DOCS)
    for c in [*(spec.get("initContainers") or []), *spec["containers"]]
]


@pytest.mark.parametrize("check", HARDENING_CHECKS, ids=[c.__name__ for c in HARDENING_CHECKS])
def test_manifests_are_hardened(check: Callable[[list[Doc]], list[str]]) -> None:
    problems = check(DOCS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("doc", "c"), CONTAINERS, ids=[f"{d.namespace}/{d.name}/{c['name']}" for d, c in CONTAINERS]
)
def test_container_is_hardened(doc: Doc, c: dict[str, Any]) -> None:
    """One case per container, so a new container shows up by name in the test list."""
    problems = [p for p in HARDENING_CHECKS[0](DOCS) if f"container {c['name']}:" in p and doc.name in p]
    assert not problems, "\n".join(problems)
    assert c["resources"]["limits"]["memory"] and c["resources"]["requests"]["cpu"]


def _c(docs: list[Doc], deployment: str, name: str) -> dict[str, Any]:
    d = next(d for d in docs if d.kind == "Deployment" and d.name == deployment)
    return container(d.obj["spec"]["template"]["spec"], name)


def _pod(docs: list[Doc], deployment: str) -> dict[str, Any]:
    return next(d for d in docs if d.kind == "Deployment" and d.name == deployment).obj["spec"]["template"][
        "spec"
    ]


BREAKAGES: list[tuple[Callable[[list[Doc]], Any], str]] = [
    (
        lambda d: _c(d, "mytsdb", "seed")["securityContext"].pop("allowPrivilegeEscalation"),
        "allowPrivilegeEscalation",
    ),
    (lambda d: _c(d, "mytsdb", "wipe")["securityContext"].update({"runAsNonRoot": False}), "runAsNonRoot"),
    (lambda d: _pod(d, "grafana")["securityContext"].update({"runAsUser": 0}), "runAsUser must not be 0"),
    (
        lambda d: _c(d, "grafana", "grafana")["securityContext"]["capabilities"].update(
            {"add": ["NET_ADMIN"]}
        ),
        "drop ALL",
    ),
    (
        lambda d: _c(d, "sample-app", "sample-app")["securityContext"].update(
            {"readOnlyRootFilesystem": False}
        ),
        "readOnlyRootFilesystem",
    ),
    (
        lambda d: [
            _c(d, "otel-collector", "otel-collector")["securityContext"].pop("seccompProfile"),
            _pod(d, "otel-collector")["securityContext"].pop("seccompProfile"),
        ],
        "seccompProfile",
    ),
    (
        lambda d: _c(d, "reference-prometheus", "backfill")["resources"].pop("limits"),
        "limits lack cpu, memory",
    ),
    (lambda d: _c(d, "reference-prometheus", "prometheus").pop("readinessProbe"), "readinessProbe missing"),
    (lambda d: _c(d, "mytsdb", "mytsdb").update({"image": "mytsdb-harness/mytsdb"}), "pinned to a tag"),
    (
        lambda d: _pod(d, "sample-app").update({"automountServiceAccountToken": True}),
        "automountServiceAccountToken",
    ),
    (lambda d: _pod(d, "grafana").pop("serviceAccountName"), "own ServiceAccount"),
    (lambda d: _pod(d, "mytsdb").update({"hostNetwork": True}), "hostNetwork"),
    (
        lambda d: _c(d, "grafana", "grafana")["env"].append(
            {"name": "GF_SECURITY_ADMIN_PASSWORD", "value": "admin"}
        ),
        "literal credential",
    ),
    (
        lambda d: d.append(
            Doc(
                d[0].path,
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": "grafana-admin", "namespace": "grafana"},
                    "stringData": {"admin-password": "x"},
                },
            )
        ),
        "never committed",
    ),
    (
        lambda d: (
            find(d, "Namespace", "otel").obj["metadata"]["labels"].pop("pod-security.kubernetes.io/enforce")
        ),
        "pod-security restricted",
    ),
    (lambda d: d.remove(find(d, "NetworkPolicy", "default-deny", "grafana")), "default-deny"),
]


@pytest.mark.parametrize(("mutate", "expected"), BREAKAGES, ids=[e for _, e in BREAKAGES])
def test_hardening_checks_catch_breakage(mutate: Callable[[list[Doc]], Any], expected: str) -> None:
    docs = copy.deepcopy(DOCS)
    mutate(docs)
    problems = [p for check in HARDENING_CHECKS for p in check(docs)]
    assert any(expected in p for p in problems), f"expected a problem containing {expected!r}, got {problems}"


# ---------------------------------------------------------------------------------------------
# NetworkPolicy flows
# ---------------------------------------------------------------------------------------------

MYTSDB = Peer("mytsdb", {"app.kubernetes.io/name": "mytsdb"})
REFERENCE = Peer("mytsdb", {"app.kubernetes.io/name": "reference-prometheus"})
COLLECTOR = Peer("otel", {"app.kubernetes.io/name": "otel-collector"})
SAMPLE_APP = Peer("otel", {"app.kubernetes.io/name": "sample-app"})
GRAFANA = Peer("grafana", {"app.kubernetes.io/name": "grafana"})
HOST = Peer(None)  # the harness through a NodePort, or the kubelet
DNS = Peer("kube-system", {"k8s-app": "kube-dns"})

NEEDED = [
    (COLLECTOR, MYTSDB, 4317),
    (SAMPLE_APP, COLLECTOR, 4317),
    (GRAFANA, MYTSDB, 9090),
    (GRAFANA, REFERENCE, 9090),
    (HOST, MYTSDB, 9090),
    (HOST, MYTSDB, 8815),
    (HOST, MYTSDB, 4317),
    (HOST, REFERENCE, 9090),
    (HOST, GRAFANA, 3000),
    (HOST, COLLECTOR, 13133),
    (HOST, SAMPLE_APP, 8080),
    (COLLECTOR, DNS, 53),
    (SAMPLE_APP, DNS, 53),
    (GRAFANA, DNS, 53),
]
FORBIDDEN = [
    (SAMPLE_APP, MYTSDB, 4317),
    (SAMPLE_APP, GRAFANA, 3000),
    (GRAFANA, MYTSDB, 8815),
    (GRAFANA, COLLECTOR, 4317),
    (COLLECTOR, MYTSDB, 9090),
    (COLLECTOR, REFERENCE, 9090),
    (MYTSDB, COLLECTOR, 4317),
    (MYTSDB, DNS, 53),
    (REFERENCE, MYTSDB, 9090),
    (HOST, COLLECTOR, 4317),
    (HOST, MYTSDB, 22),
]


def _id(flow: tuple[Peer, Peer, int]) -> str:
    src, dst, port = flow
    name = lambda p: p.label_map().get("app.kubernetes.io/name") or p.label_map().get("k8s-app") or "host"  # noqa: E731
    return f"{name(src)}->{name(dst)}:{port}"


@pytest.mark.parametrize("flow", NEEDED, ids=[_id(f) for f in NEEDED])
def test_needed_flow_is_allowed(flow: tuple[Peer, Peer, int]) -> None:
    assert allowed(DOCS, *flow)


@pytest.mark.parametrize("flow", FORBIDDEN, ids=[_id(f) for f in FORBIDDEN])
def test_other_flow_is_denied(flow: tuple[Peer, Peer, int]) -> None:
    assert not allowed(DOCS, *flow)


def test_without_policies_everything_flows() -> None:
    """The evaluator is not vacuous: with the policies removed, a forbidden flow is allowed."""
    docs = [d for d in DOCS if d.kind != "NetworkPolicy"]
    assert allowed(docs, SAMPLE_APP, MYTSDB, 4317)
