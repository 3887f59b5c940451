"""The metric catalog: real exporter shapes (cAdvisor, node-exporter, kube-state-metrics, app).

Each :class:`Metric` says which entity one of its series belongs to (``scope``), which job scrapes
it, the extra labels that fan a unit out into several series, and the value model with its
parameters. ``seeder.generate`` turns this into numbers; ``seeder.manifest`` counts it.

Example::

    >>> METRICS["kube_pod_status_phase"].per_unit
    5
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

#: the 12 label dimensions MyTSDB's dashboards use
DIMENSIONS: tuple[str, ...] = (
    "region", "zone", "cluster", "namespace", "app", "service", "deployment", "pod", "container",
    "node", "instance", "job",
)
#: labels of node-scoped series (node-exporter)
NODE_DIMENSIONS: tuple[str, ...] = ("region", "zone", "cluster", "node", "instance", "job")

PHASES: tuple[str, ...] = ("Pending", "Running", "Succeeded", "Failed", "Unknown")
CPU_MODES: tuple[str, ...] = ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")
#: share of one CPU spent per mode (sums to 1)
CPU_MODE_SHARE: tuple[float, ...] = (0.671, 0.015, 0.003, 0.004, 0.008, 0.002, 0.075, 0.222)
CPUS_PER_NODE = 4
HTTP_CODES_METHODS: tuple[tuple[str, str], ...] = (
    ("200", "GET"), ("404", "GET"), ("500", "GET"), ("201", "POST"), ("400", "POST"), ("503", "POST"),
)
HTTP_SHARE: tuple[float, ...] = (1.0, 0.04, 0.004, 0.25, 0.02, 0.002)
#: histogram bucket bounds in seconds; the last is +Inf
LE_BOUNDS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, float("inf"))
LE_VALUES: tuple[str, ...] = tuple("+Inf" if b == float("inf") else repr(b) for b in LE_BOUNDS)

KINDS = ("counter", "gauge", "histogram_bucket", "histogram_sum", "histogram_count")


@dataclass(frozen=True)
class Metric:
    """One metric name of the catalog.

    ``scope``: ``container`` (one unit per pod container), ``pod`` (one per pod, ``container`` is
    the pod's main container) or ``node``. ``extra``: extra label names and the value tuples
    each unit fans out into (unit-major, extra-minor). ``resets``: which restart resets this
    counter (``container``: its own container, ``main``: the pod's main container, ``""``: never).
    """

    name: str
    kind: str
    scope: str
    job: str
    model: str
    extra_names: tuple[str, ...] = ()
    extra_values: tuple[tuple[str, ...], ...] = ((),)
    share: tuple[float, ...] = (1.0,)
    params: dict[str, float] = field(default_factory=dict, hash=False, compare=False)
    resets: str = ""
    help: str = ""

    @property
    def per_unit(self) -> int:
        """Series per unit (pod, container or node)."""
        return len(self.extra_values)

    @property
    def labels(self) -> tuple[str, ...]:
        """Every label name of a series, sorted (the Arrow label column order)."""
        base = NODE_DIMENSIONS if self.scope == "node" else DIMENSIONS
        return tuple(sorted((*base, *self.extra_names)))

    @property
    def is_counter(self) -> bool:
        """Monotonic apart from resets (what rate() is meant for)."""
        return self.kind in ("counter", "histogram_bucket", "histogram_sum", "histogram_count")


def _counter(name: str, scope: str, job: str, rate: float, quantum: float, resets: str, help: str,
             diurnal: float = 0.35, noise: float = 0.25, spread: float = 0.7) -> Metric:
    return Metric(name, "counter", scope, job, "counter", resets=resets, help=help,
                  params={"rate": rate, "quantum": quantum, "diurnal": diurnal, "noise": noise,
                          "spread": spread, "uptime_s": 5 * 86400})


def _gauge(name: str, scope: str, job: str, level: float, quantum: float, help: str,
           diurnal: float = 0.25, noise: float = 0.1, spread: float = 0.7) -> Metric:
    return Metric(name, "gauge", scope, job, "gauge", help=help,
                  params={"level": level, "quantum": quantum, "diurnal": diurnal, "noise": noise,
                          "spread": spread})


_HIST = {"rate": 40.0, "median_s": 0.06, "diurnal": 0.45, "noise": 0.2, "spread": 0.8,
         "uptime_s": 5 * 86400}
_CM_NAMES = ("code", "method")

CATALOG: tuple[Metric, ...] = (
    # the biggest families first: a sink streaming one metric at a time overlaps them with the rest
    Metric("http_request_duration_seconds_bucket", "histogram_bucket", "pod", "app", "hist_bucket",
           ("le",), tuple((v,) for v in LE_VALUES), params=_HIST, resets="main",
           help="Request latency histogram (cumulative buckets)"),
    Metric("http_request_duration_seconds_sum", "histogram_sum", "pod", "app", "hist_sum",
           params=_HIST, resets="main", help="Total request latency in seconds"),
    Metric("http_request_duration_seconds_count", "histogram_count", "pod", "app", "hist_count",
           params=_HIST, resets="main", help="Requests observed by the latency histogram"),
    Metric("http_requests_total", "counter", "pod", "app", "counter", _CM_NAMES, HTTP_CODES_METHODS,
           HTTP_SHARE, params={"rate": 40.0, "quantum": 1.0, "diurnal": 0.45, "noise": 0.2,
                               "spread": 0.8, "uptime_s": 5 * 86400},
           resets="main", help="HTTP requests by status code and method"),
    Metric("node_cpu_seconds_total", "counter", "node", "node-exporter", "node_cpu", ("cpu", "mode"),
           tuple(itertools.product([str(c) for c in range(CPUS_PER_NODE)], CPU_MODES)),
           CPU_MODE_SHARE * CPUS_PER_NODE,
           params={"rate": 1.0, "quantum": 0.01, "diurnal": 0.3, "noise": 0.1, "spread": 0.0,
                   "uptime_s": 20 * 86400}, help="Seconds each CPU spent per mode"),
    Metric("kube_pod_status_phase", "gauge", "pod", "kube-state-metrics", "phase", ("phase",),
           tuple((p,) for p in PHASES), help="Pod phase, one-hot"),
    _counter("container_cpu_usage_seconds_total", "container", "kubelet", 0.25, 0.001, "container",
             "Cumulative CPU time consumed by the container"),
    _gauge("container_memory_working_set_bytes", "container", "kubelet", 256 * 2**20, 4096,
           "Working set memory of the container"),
    _counter("container_fs_reads_bytes_total", "container", "kubelet", 20_000.0, 512, "container",
             "Bytes read from disk by the container"),
    _counter("container_fs_writes_bytes_total", "container", "kubelet", 60_000.0, 512, "container",
             "Bytes written to disk by the container"),
    Metric("kube_pod_container_status_restarts_total", "counter", "container", "kube-state-metrics",
           "restarts", help="Container restarts"),
    _counter("container_network_receive_bytes_total", "pod", "kubelet", 150_000.0, 1.0, "",
             "Bytes received by the pod"),
    _counter("container_network_transmit_bytes_total", "pod", "kubelet", 90_000.0, 1.0, "",
             "Bytes sent by the pod"),
    _counter("process_cpu_seconds_total", "pod", "app", 0.2, 0.01, "main",
             "CPU seconds of the application process"),
    _gauge("process_resident_memory_bytes", "pod", "app", 180 * 2**20, 4096,
           "Resident memory of the application process"),
    _gauge("process_open_fds", "pod", "app", 60.0, 1.0, "Open file descriptors", diurnal=0.2),
    Metric("node_memory_MemTotal_bytes", "gauge", "node", "node-exporter", "mem_total",
           help="Memory of the node"),
    Metric("node_memory_MemAvailable_bytes", "gauge", "node", "node-exporter", "mem_available",
           params={"diurnal": 0.2, "noise": 0.05}, help="Memory available on the node"),
)

METRICS: dict[str, Metric] = {m.name: m for m in CATALOG}


def select(names: tuple[str, ...] | None) -> tuple[Metric, ...]:
    """The catalog subset named by ``names`` in catalog order (all when empty)."""
    if not names:
        return CATALOG
    wanted = set(names)
    return tuple(m for m in CATALOG if m.name in wanted)


def series_count(metric: Metric, pods: int, nodes: int, containers_per_pod: int) -> int:
    """Series of one metric for a topology with that many pods and nodes (closed form)."""
    units = {"node": nodes, "pod": pods, "container": pods * containers_per_pod}[metric.scope]
    return units * metric.per_unit
