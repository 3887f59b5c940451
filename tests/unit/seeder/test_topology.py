"""Topology: the 12 dimensions, deterministic realistic names, deterministic placement."""

from __future__ import annotations

import re

from seeder import catalog
from seeder.spec import build_spec
from seeder.topology import build_topology
from tests.unit.support.seeder import END, tiny

POD_RE = re.compile(r"^[a-z0-9-]+-[bcdfghjklmnpqrstvwxz2456789]{10}-[bcdfghjklmnpqrstvwxz2456789]{5}$")
NODE_RE = re.compile(r"^ip-10-\d+-\d+-\d+\.[a-z0-9-]+\.compute\.internal$")


def test_twelve_dimensions_with_the_dashboard_names() -> None:
    assert catalog.DIMENSIONS == ("region", "zone", "cluster", "namespace", "app", "service", "deployment",
                                  "pod", "container", "node", "instance", "job")
    topo = build_topology(tiny(), "main")
    assert set(catalog.DIMENSIONS) <= set(topo.values)
    assert all(topo.values[d] for d in catalog.DIMENSIONS)


def test_names_are_identical_across_builds_and_change_with_the_seed() -> None:
    a, b = build_topology(tiny(), "main"), build_topology(tiny(), "main")
    assert a.values == b.values and (a.pods["node"] == b.pods["node"]).all()
    c = build_topology(tiny(seed=7), "main")
    assert set(c.values["pod"]).isdisjoint(a.values["pod"])
    assert c.values["namespace"] == a.values["namespace"] and c.values["node"] == a.values["node"]


def test_names_look_like_kubernetes_and_are_unique() -> None:
    topo = build_topology(build_spec("small", end_time=END), "main")
    pods, nodes = topo.values["pod"], topo.values["node"]
    assert all(POD_RE.match(p) for p in pods), pods[:3]
    assert all(NODE_RE.match(n) for n in nodes), nodes[:3]
    assert len(set(pods)) == len(pods) == topo.n_pods
    assert len(set(nodes)) == len(nodes) == topo.n_nodes
    # pods of one deployment in one cluster share the pod-template hash, like a ReplicaSet
    svc = topo.pods["deployment"]
    clusters = topo.pods["cluster"]
    for key in {(int(c), int(s)) for c, s in zip(clusters, svc, strict=True)}:
        names = [pods[i] for i in range(topo.n_pods) if (clusters[i], svc[i]) == key]
        assert len({n.rsplit("-", 2)[1] for n in names}) == 1


def test_pods_sit_on_nodes_of_their_own_cluster_evenly() -> None:
    spec = build_spec("small", end_time=END)
    topo = build_topology(spec, "main")
    node_cluster = dict(zip(topo.nodes["node"].tolist(), topo.nodes["cluster"].tolist(), strict=True))
    for node, cluster in zip(topo.pods["node"].tolist(), topo.pods["cluster"].tolist(), strict=True):
        assert node_cluster[node] == cluster
    per_node = {n: int((topo.pods["node"] == n).sum()) for n in node_cluster}
    assert max(per_node.values()) - min(per_node.values()) <= 1


def test_otlp_slice_is_one_dedicated_cluster() -> None:
    spec = tiny()
    topo = build_topology(spec, "otlp")
    assert topo.values["cluster"] == [spec.otlp_cluster]
    assert topo.n_nodes == 1 and topo.n_pods == spec.namespaces * spec.services_per_namespace
    assert topo.n_times == spec.otlp_samples_per_series
    assert set(topo.values["pod"]).isdisjoint(build_topology(spec, "main").values["pod"])


def test_at_least_one_deliberate_restart_inside_the_window() -> None:
    topo = build_topology(tiny(), "main")
    hits = topo.restarts[topo.restarts >= 0]
    assert len(hits) >= 1 and ((hits >= 1) & (hits < topo.n_times)).all()
