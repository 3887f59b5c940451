"""Spec -> a stream of Arrow batches (MetricBatch), series-contiguous and bounded in size.

Batches are built group by group: a group is a run of consecutive series of one metric, cut
into time chunks. The label columns of a group are built once (``take()`` on small per-label
dictionaries) and shared by all its chunks, so only timestamps and values are new per batch and
the 20M-sample preset streams in bounded memory. Layout contract: docs/architecture.md.

Example::

    >>> from seeder.spec import build_spec
    >>> spec = build_spec("tiny", end_time="2026-11-01T00:00:00Z")
    >>> first = next(iter_batches(spec))
    >>> first.batch.schema.names[:2]
    ['timestamp', 'value']
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pyarrow as pa

from seeder import catalog, models
from seeder.spec import SeedSpec
from seeder.topology import Topology, build_topology, stable_hash

#: estimated IPC payload per batch (worst-case label lengths); gRPC's default limit is 4 MiB
TARGET_BATCH_BYTES = 3_000_000
MIN_CHUNK = 96
#: values computed per model call (a span of several chunks): ~8 MB of float64 plus temporaries
SPAN_VALUES = 1 << 15


class Hasher(Protocol):
    """What the digest needs of a hashlib object."""

    def update(self, data: bytes | memoryview, /) -> None: ...


@dataclass(frozen=True)
class MetricBatch:
    """One Arrow record batch of one metric, series-contiguous (see docs/architecture.md)."""

    metric: str
    batch: pa.RecordBatch
    series: int
    kind: str


def family(m: catalog.Metric) -> str:
    """Metrics that must agree share unit keys: one histogram's parts, node memory total/available."""
    if m.model.startswith("hist_"):
        return m.name.rsplit("_", 1)[0]
    return "node_memory" if m.model.startswith("mem_") else m.name


@dataclass
class MetricPlan:
    """Everything needed to produce one metric of one slice: series labels, unit parameters, layout."""

    metric: catalog.Metric
    topo: Topology
    dicts: dict[str, pa.Array]      # label -> dictionary of values
    idx: dict[str, np.ndarray]      # label -> dictionary index per series
    unit_keys: np.ndarray           # (units,) uint64
    unit_region: np.ndarray         # (units,) region value index
    unit_resets: np.ndarray         # (units,) restart time index or -1
    units_per_group: int
    chunk: int

    @property
    def n_units(self) -> int:
        return len(self.unit_keys)

    @property
    def n_series(self) -> int:
        return self.n_units * self.metric.per_unit

    def labels_of(self, series: int) -> dict[str, str]:
        """The label set of one series (by index), without __name__."""
        return {k: self.dicts[k][int(v[series])].as_py() for k, v in self.idx.items()}


def plan_metric(spec: SeedSpec, topo: Topology, m: catalog.Metric) -> MetricPlan:
    """Expand a catalog entry over the topology: per-series label indices and per-unit parameters."""
    k = spec.containers_per_pod
    vals = dict(topo.values)
    job_const = {"kubelet": 0, "kube-state-metrics": 1, "node-exporter": 2}
    if m.scope == "node":
        unit = {d: topo.nodes[d] for d in catalog.NODE_DIMENSIONS}
        keys, resets = topo.node_keys, np.full(topo.n_nodes, -1, dtype=np.int64)
    else:
        rep = k if m.scope == "container" else 1
        unit = {d: np.repeat(topo.pods[d], rep) for d in catalog.DIMENSIONS
                if d not in ("container", "instance", "job")}
        unit["container"] = topo.containers.ravel() if rep > 1 else topo.containers[:, 0].copy()
        inst = {"kubelet": "kubelet_instance", "kube-state-metrics": "ksm_instance", "app": "app_instance"}
        unit["instance"] = np.repeat(topo.pods[inst[m.job]], rep)
        unit["job"] = (np.repeat(topo.pods["app_job"], rep) if m.job == "app"
                       else np.full(len(unit["pod"]), job_const[m.job], dtype=np.int32))
        keys = topo.pod_keys if rep == 1 else models.mix64(
            topo.pod_keys[:, None] + np.arange(1, k + 1, dtype=np.uint64)[None, :]).ravel()
        if m.model == "restarts" or m.resets == "container":
            resets = topo.restarts.ravel() if rep > 1 else topo.restarts[:, 0].copy()
        elif m.resets == "main":
            resets = np.repeat(topo.restarts[:, 0], rep)
        else:
            resets = np.full(len(keys), -1, dtype=np.int64)
    n_units, per_unit = len(keys), m.per_unit
    idx = {d: np.repeat(v, per_unit) for d, v in unit.items()}
    for j, name in enumerate(m.extra_names):
        col = [combo[j] for combo in m.extra_values]
        uniq = list(dict.fromkeys(col))
        vals[name] = uniq
        idx[name] = np.tile(np.array([uniq.index(c) for c in col], dtype=np.int32), n_units)
    labels = m.labels
    known = topo.extra.setdefault("dicts", {})  # one dictionary object per distinct value list
    dicts = {}
    for name in labels:
        vk = (name, tuple(vals[name]))
        if vk not in known:
            known[vk] = pa.array(vals[name], pa.utf8())
        dicts[name] = known[vk]
    fam = np.uint64(stable_hash(family(m)))
    unit_keys = models.mix64(keys ^ fam)
    row_bytes = 16 + sum(4 + max((len(s.encode()) for s in vals[name]), default=0) for name in labels)
    rows = max(1, TARGET_BATCH_BYTES // row_bytes)
    upg = min(n_units, max(1, rows // (per_unit * MIN_CHUNK)))
    chunk = _even_chunk(topo.n_times, min(topo.n_times, max(1, rows // (upg * per_unit))))
    region = unit["region"]
    return MetricPlan(m, topo, dicts, {n: idx[n] for n in labels}, unit_keys, region,
                      resets.astype(np.int64), upg, chunk)


def _even_chunk(n_times: int, limit: int) -> int:
    """A chunk length that divides the window if one is close to the limit: no odd tail chunk, whose
    label columns would have to be built again."""
    for d in range(limit, max(1, (3 * limit) // 4) - 1, -1):
        if n_times % d == 0:
            return d
    return limit


def iter_batches(spec: SeedSpec, slice_name: str = "main", *, hasher: Hasher | None = None
                 ) -> Iterator[MetricBatch]:
    """Yield every batch of one slice in order (all batches of a metric consecutively).

    ``hasher`` (a hashlib object) is fed the data (labels once per metric, then every batch's
    timestamps and values): the manifest digest.
    """
    if slice_name == "otlp" and spec.otlp_samples_per_series < 1:
        return
    topo = build_topology(spec, slice_name)
    shared: dict[tuple[str, int, int, bytes], pa.Array] = {}
    for m in spec.selected_metrics():
        plan = plan_metric(spec, topo, m)
        previous, shared = shared, {}
        yield from metric_batches(spec, plan, hasher=hasher, labels=(previous, shared))


def metric_batches(spec: SeedSpec, plan: MetricPlan, *, units_per_group: int | None = None,
                   chunk: int | None = None, hasher: Hasher | None = None,
                   labels: tuple[dict, dict] | None = None) -> Iterator[MetricBatch]:
    """The batches of one metric; overriding the layout (one big block) gives the reference model.

    ``labels`` = (the previous metric's label columns, this metric's): consecutive metrics of the
    same entities (cAdvisor's container_* family) reuse identical columns instead of rebuilding them.
    """
    previous, current = labels if labels is not None else ({}, {})
    m, topo = plan.metric, plan.topo
    upg = units_per_group or plan.units_per_group
    chunk = chunk or plan.chunk
    per_unit, n_times, interval = m.per_unit, topo.n_times, spec.interval_ms
    table = models.noise_table(spec.seed)
    model = models.MODELS[m.model]
    share = np.asarray(m.share, dtype=np.float64)
    names = list(plan.idx)
    schema = pa.schema([("timestamp", pa.int64()), ("value", pa.float64())]
                       + [(n, pa.utf8()) for n in names])
    if hasher is not None:
        hasher.update(f"\x00{m.name}\x00{','.join(names)}".encode())
        for n in names:
            hasher.update("\x1f".join(plan.dicts[n].to_pylist()).encode())
            hasher.update(plan.idx[n].tobytes())
    combo = np.arange(1, per_unit + 1, dtype=np.uint64)
    hours = np.arange(n_times) * (interval / 3.6e6) + topo.start_ms / 3.6e6
    # the daily shape depends on region and time only: once per metric, not once per batch
    diurnal_all = models.diurnal(hours[None, :] + topo.utc_offset_h[:, None])
    for u0 in range(0, plan.n_units, upg):
        u1 = min(plan.n_units, u0 + upg)
        s0, s1 = u0 * per_unit, u1 * per_unit
        ukeys = plan.unit_keys[u0:u1]
        skeys = models.mix64(ukeys[:, None] * np.uint64(31) + combo[None, :])
        skeys = (skeys >> np.uint64(40)).astype(np.int64)
        block = models.Block(table=table, keys=skeys, unit_keys=ukeys,
                             unit_offsets=(ukeys >> np.uint64(40)).astype(np.int64), diurnal=np.empty(0),
                             t0=0, t1=0, dt=spec.scrape_interval, n_times=n_times,
                             resets=plan.unit_resets[u0:u1], share=share)
        diurnal_group = diurnal_all[plan.unit_region[u0:u1]]
        cache: dict[int, tuple[list[pa.Array], np.ndarray]] = {}
        # values are computed for a span of several chunks at once (fewer, larger numpy steps: the
        # models are exact in any blocking), then cut into the chunk batches
        span = chunk * max(1, SPAN_VALUES // max(1, chunk * (s1 - s0)))
        for v0 in range(0, n_times, span):
            v1 = min(n_times, v0 + span)
            block.diurnal = diurnal_group[:, v0:v1]
            block.t0, block.t1 = v0, v1
            span_values = np.asarray(model(block, m), dtype=np.float64).reshape(s1 - s0, v1 - v0)
            for t0 in range(v0, v1, chunk):
                t1 = min(v1, t0 + chunk)
                c = t1 - t0
                if c not in cache:
                    cols = []
                    for n in names:
                        key = (n, c, id(plan.dicts[n]), plan.idx[n][s0:s1].tobytes())
                        col = previous.get(key)
                        if col is None:
                            col = plan.dicts[n].take(pa.array(np.repeat(plan.idx[n][s0:s1], c)))
                        current[key] = col
                        cols.append(col)
                    cache[c] = (cols, np.tile(np.arange(c, dtype=np.int64) * interval, s1 - s0))
                cols, offsets = cache[c]
                values = np.ascontiguousarray(span_values[:, t0 - v0 : t1 - v0]).reshape(-1)
                ts = offsets + (topo.start_ms + t0 * interval)
                if spec.jitter:
                    block.t0, block.t1 = t0, t1
                    jit = block.noise(skeys ^ np.int64(0x5A5A5))
                    ts += ((jit + 1.0) * (interval * 3 / 16)).astype(np.int64).reshape(-1)
                if hasher is not None:  # aligned timestamps enter the digest through their grid parameters
                    hasher.update(ts.data if spec.jitter else f"{ts[0]},{c},{interval},{s1 - s0}".encode())
                    hasher.update(values.data)
                rb = pa.RecordBatch.from_arrays([pa.array(ts), pa.array(values), *cols], schema=schema)
                yield MetricBatch(m.name, rb, s1 - s0, m.kind)


def model_table(spec: SeedSpec, metric: str, slice_name: str = "main") -> pa.Table:
    """The whole metric of a slice as one table, computed as a single block (no streaming).

    Tests compare what sinks delivered with this: same formulas, independent batching.
    """
    topo = build_topology(spec, slice_name)
    plan = plan_metric(spec, topo, catalog.METRICS[metric])
    batches = [b.batch for b in metric_batches(spec, plan, units_per_group=plan.n_units, chunk=topo.n_times)]
    return pa.Table.from_batches(batches)
