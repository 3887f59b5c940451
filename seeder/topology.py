"""Deterministic Kubernetes topology: regions, zones, clusters, nodes, namespaces, services, pods.

Names look real (``checkout-api-7d9fbc5x2q-k4m2p``, ``ip-10-0-1-12.us-east-1.compute.internal``)
and are pure functions of (spec, seed): nothing differs between runs. Pods are placed on the
nodes of their cluster round-robin from a seed-derived offset. Label values are stored once per
dimension (``values``); entities refer to them by index so label columns are cheap ``take()``\\ s.

Example::

    >>> from seeder.spec import build_spec
    >>> topo = build_topology(build_spec("tiny", end_time=1.7e9), "main")
    >>> len(topo.values["cluster"])
    2
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from seeder.spec import SeedSpec

REGIONS: tuple[tuple[str, float], ...] = (  # name, UTC offset in hours (drives the diurnal phase)
    ("us-east-1", -5), ("eu-west-1", 0), ("ap-southeast-1", 8), ("us-west-2", -8), ("eu-central-1", 1),
    ("ap-northeast-1", 9), ("sa-east-1", -3), ("ap-south-1", 5.5), ("ca-central-1", -5),
    ("eu-north-1", 1), ("ap-southeast-2", 10), ("us-east-2", -5), ("af-south-1", 2),
    ("me-south-1", 3), ("eu-west-2", 0), ("ap-northeast-2", 9),
)
NAMESPACES = ("checkout", "payments", "catalog", "search", "identity", "shipping", "inventory",
              "frontend", "notifications", "analytics", "recommendations", "billing")
ROLES = ("api", "worker", "web", "gateway", "cache", "scheduler", "consumer", "indexer")
SIDECARS = ("istio-proxy", "log-shipper", "config-reloader", "metrics-agent", "vault-agent")
_ALNUM = "bcdfghjklmnpqrstvwxz2456789"  # the alphabet Kubernetes uses for generated name suffixes
RESTART_SHARE = 0.12  # containers restarting once inside the window


def stable_hash(*parts: object) -> int:
    """A 64-bit hash of the parts that is identical on every platform and run."""
    h = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def _suffix(n: int, *parts: object) -> str:
    h = stable_hash(*parts)
    return "".join(_ALNUM[(h >> (5 * i)) % len(_ALNUM)] for i in range(n))


def _ip(prefix: int, n: int) -> str:
    return f"{prefix}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


class _Dict:
    """Values of one label dimension, in first-seen order, addressed by index."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, value: str) -> int:
        i = self._index.get(value)
        if i is None:
            i = self._index[value] = len(self.values)
            self.values.append(value)
        return i


@dataclass
class Topology:
    """Entities of one slice; per-entity label indices into ``values[dimension]``."""

    slice_name: str
    n_times: int
    start_ms: int
    values: dict[str, list[str]]
    pods: dict[str, np.ndarray]          # dimension (+ app_job/app_instance/...) -> index per pod
    containers: np.ndarray               # (pods, containers_per_pod) container value index
    nodes: dict[str, np.ndarray]         # region/zone/cluster/node/instance/job -> index per node
    pod_keys: np.ndarray                 # uint64 per pod (noise and parameters)
    node_keys: np.ndarray                # uint64 per node
    restarts: np.ndarray                 # (pods, containers_per_pod) time index of a restart or -1
    utc_offset_h: np.ndarray             # per region value index
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def n_pods(self) -> int:
        return len(self.pod_keys)

    @property
    def n_nodes(self) -> int:
        return len(self.node_keys)


def build_topology(spec: SeedSpec, slice_name: str = "main") -> Topology:
    """The entities of a slice: ``main`` (the full topology) or ``otlp`` (one dedicated cluster)."""
    d = {k: _Dict() for k in ("region", "zone", "cluster", "namespace", "app", "service", "deployment",
                              "pod", "container", "node", "instance", "job")}
    for job in ("kubelet", "kube-state-metrics", "node-exporter"):
        d["job"](job)
    clusters: list[tuple[int, str, str, str]] = []  # (global index, region, zone, cluster)
    if slice_name == "otlp":
        region = REGIONS[0][0]
        clusters.append((4000, region, region + "a", spec.otlp_cluster))
        nodes_per_cluster, pods_per_service = 1, 1
        n_times = spec.otlp_samples_per_series
    elif slice_name == "main":
        for r in range(spec.regions):
            region = REGIONS[r][0]
            for z in range(spec.zones_per_region):
                zone = region + "abcdef"[z]
                for c in range(spec.clusters_per_zone):
                    clusters.append((len(clusters), region, zone, f"prod-{zone}-{c}"))
        nodes_per_cluster, pods_per_service = spec.nodes_per_cluster, spec.pods_per_service
        n_times = spec.samples_per_series
    else:
        raise ValueError(f"unknown slice {slice_name!r}")
    offsets = dict(REGIONS)
    pods: dict[str, list[int]] = {k: [] for k in (*d, "app_job", "app_instance", "kubelet_instance",
                                                  "ksm_instance", "node_index")}
    pods.pop("instance"), pods.pop("job"), pods.pop("container")
    nodes: dict[str, list[int]] = {k: [] for k in ("region", "zone", "cluster", "node", "instance", "job")}
    containers: list[list[int]] = []
    pod_names: list[str] = []
    node_names: list[str] = []
    node_ips: list[str] = []
    for ci, region, zone, cluster in clusters:
        first_node = len(node_names)
        for n in range(nodes_per_cluster):
            ip = _ip(10, ci * 1000 + n)
            name = f"ip-{ip.replace('.', '-')}.{region}.compute.internal"
            node_names.append(name)
            node_ips.append(ip)
            for k, v in (("region", region), ("zone", zone), ("cluster", cluster), ("node", name),
                         ("instance", f"{ip}:9100"), ("job", "node-exporter")):
                nodes[k].append(d[k](v))
        ksm = d["instance"](f"{_ip(100, 0x3F0000 + ci)}:8080")
        placement = stable_hash(spec.seed, cluster, "placement") % nodes_per_cluster
        local = 0
        for ns_i in range(spec.namespaces):
            ns = NAMESPACES[ns_i] if ns_i < len(NAMESPACES) else f"team-{ns_i:03d}"
            for s_i in range(spec.services_per_namespace):
                role = ROLES[s_i] if s_i < len(ROLES) else f"svc{s_i}"
                svc = f"{ns}-{role}"
                template = _suffix(10, spec.seed, cluster, ns, svc, "template")
                names: set[str] = set()
                for p in range(pods_per_service):
                    salt = 0
                    while (name := f"{svc}-{template}-{_suffix(5, spec.seed, cluster, svc, p, salt)}") \
                            in names:
                        salt += 1
                    names.add(name)
                    node = first_node + (placement + local) % nodes_per_cluster
                    local += 1
                    gpod = len(pod_names)
                    pod_names.append(name)
                    for k, v in (("region", region), ("zone", zone), ("cluster", cluster), ("namespace", ns),
                                 ("app", svc), ("service", svc), ("deployment", svc), ("pod", name),
                                 ("node", node_names[node])):
                        pods[k].append(d[k](v))
                    pods["node_index"].append(node)
                    pods["app_job"].append(d["job"](svc))
                    pod_ip = _ip(100, 0x400000 + ci * 4096 + gpod)
                    pods["app_instance"].append(d["instance"](f"{pod_ip}:8080"))
                    pods["kubelet_instance"].append(d["instance"](f"{node_ips[node]}:10250"))
                    pods["ksm_instance"].append(ksm)
                    main = role if s_i < len(ROLES) else "app"
                    cnames = [main, *[SIDECARS[i] if i < len(SIDECARS) else f"sidecar-{i}"
                                      for i in range(spec.containers_per_pod - 1)]]
                    containers.append([d["container"](c) for c in cnames])
    pod_keys = np.array([stable_hash(spec.seed, slice_name, p) for p in pod_names], dtype=np.uint64)
    node_keys = np.array([stable_hash(spec.seed, slice_name, n) for n in node_names], dtype=np.uint64)
    values = {k: v.values for k, v in d.items()}
    return Topology(
        slice_name=slice_name,
        n_times=n_times,
        start_ms=spec.end_ms - (n_times - 1) * spec.interval_ms,
        values=values,
        pods={k: np.array(v, dtype=np.int32) for k, v in pods.items()},
        containers=np.array(containers, dtype=np.int32).reshape(len(pod_names), spec.containers_per_pod),
        nodes={k: np.array(v, dtype=np.int32) for k, v in nodes.items()},
        pod_keys=pod_keys,
        node_keys=node_keys,
        restarts=_restarts(spec, pod_names, n_times),
        utc_offset_h=np.array([offsets[r] for r in values["region"]], dtype=np.float64),
    )


def _restarts(spec: SeedSpec, pod_names: list[str], n_times: int) -> np.ndarray:
    """Which containers restart once inside the window, and when (time index >= 1); -1 = never."""
    out = np.full((len(pod_names), spec.containers_per_pod), -1, dtype=np.int64)
    if n_times < 3:
        return out
    for p, name in enumerate(pod_names):
        for k in range(spec.containers_per_pod):
            h = stable_hash(spec.seed, name, k, "restart")
            if (h & 0xFFFFFFFF) / 2**32 < RESTART_SHARE:
                out[p, k] = 1 + (h >> 32) % (n_times - 1)
    if len(pod_names) and (out < 0).all():
        out[0, 0] = n_times // 2  # always at least one deliberate reset, so tests can see one
    return out
