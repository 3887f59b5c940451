"""Spec -> a stream of Arrow batches (MetricBatch), series-contiguous and bounded in size.

Batches are built group by group: a group is a run of consecutive series of one metric, cut
into time chunks, and each chunk into batches of consecutive series (the :class:`Layout`; the
default is few wide batches, the Flight sink asks for whole series per batch). Label columns are
built once (``take()`` on small per-label dictionaries, or a constant column for one series) and
shared by the chunks and metrics that need the same one, so only timestamps and values are new per
batch and the 20M-sample preset streams in bounded memory. The data and the digest are the same in
every layout. Layout contract: docs/architecture.md, docs/seeding-performance.md.

Example::

    >>> from seeder.spec import build_spec
    >>> spec = build_spec("tiny", end_time="2026-11-01T00:00:00Z")
    >>> first = next(iter_batches(spec))
    >>> first.batch.schema.names[:2]
    ['timestamp', 'value']
"""

from __future__ import annotations

import hashlib
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
#: values of one group of series (all its times) at most when a layout cuts groups into batches
GROUP_VALUES = 1 << 18


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
    #: the batches of one metric with the same ``run_key`` hold the successive runs of the same
    #: series (send them in order, on one stream); different keys share no series
    run_key: int = 0
    #: no later batch continues these series
    final: bool = True


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
    row_bytes: int = 0              # estimated IPC bytes per row (worst-case label lengths)

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
                      resets.astype(np.int64), upg, chunk, row_bytes)


def _even_chunk(n_times: int, limit: int) -> int:
    """A chunk length that divides the window if one is close to the limit: no odd tail chunk, whose
    label columns would have to be built again."""
    for d in range(limit, max(1, (3 * limit) // 4) - 1, -1):
        if n_times % d == 0:
            return d
    return limit


@dataclass(frozen=True)
class Layout:
    """How each metric is cut into batches. The data, each series' time order and the digest are
    the same in every layout; only the rows per batch and the runs per series differ.

    ``run``: samples per series run, i.e. consecutive rows of one series in one batch (0 = the
    whole series, as far as ``batch_bytes`` allows). ``series``: at most this many series per batch
    (0 = as many as fit). ``batch_bytes``: estimated IPC payload per batch at most (worst-case label
    lengths; gRPC's default limit is 4 MiB).
    """

    run: int = 0
    series: int = 0
    batch_bytes: int = TARGET_BATCH_BYTES


def plan_layout(plan: MetricPlan, layout: Layout | None) -> tuple[int, int, int]:
    """(units per group, samples per chunk, series per batch) of a metric in a layout.

    ``None`` is the default layout: as many series per batch as fit with runs of at least
    ``MIN_CHUNK`` samples (few, wide batches; what the file and remote-write sinks get).
    """
    if layout is None:
        return plan.units_per_group, plan.chunk, plan.units_per_group * plan.metric.per_unit
    n_times, per_unit = plan.topo.n_times, plan.metric.per_unit
    rows = max(1, layout.batch_bytes // max(1, plan.row_bytes))
    run = _even_chunk(n_times, max(1, min(n_times, layout.run or n_times, rows)))
    k = min(plan.n_series, max(1, rows // run), layout.series or plan.n_series)
    # values are computed for groups of up to GROUP_VALUES values (fewer numpy calls), which are then
    # cut into batches of k series (whole units when a batch holds one or more)
    per_batch = max(1, k // per_unit)
    upg = max(per_batch, GROUP_VALUES // (per_unit * n_times) // per_batch * per_batch)
    return min(upg, plan.n_units), run, (per_batch * per_unit if k >= per_unit else k)


def iter_batches(spec: SeedSpec, slice_name: str = "main", *, hasher: Hasher | None = None,
                 layout: Layout | None = None) -> Iterator[MetricBatch]:
    """Yield every batch of one slice in order (all batches of a metric consecutively).

    ``hasher`` (a hashlib object) is fed the data (labels once per metric, then a digest of each
    series' timestamps and values, in series order): the manifest digest, the same in every
    ``layout`` (None: the default, see :func:`plan_layout`).
    """
    if slice_name == "otlp" and spec.otlp_samples_per_series < 1:
        return
    topo = build_topology(spec, slice_name)
    columns = ColumnCache()
    for m in spec.selected_metrics():
        plan = plan_metric(spec, topo, m)
        upg, chunk, spb = plan_layout(plan, layout)
        columns.next_metric()
        yield from metric_batches(spec, plan, units_per_group=upg, chunk=chunk, series_per_batch=spb,
                                  hasher=hasher, labels=columns)


def metric_batches(spec: SeedSpec, plan: MetricPlan, *, units_per_group: int | None = None,
                   chunk: int | None = None, series_per_batch: int | None = None,
                   hasher: Hasher | None = None, labels: ColumnCache | None = None
                   ) -> Iterator[MetricBatch]:
    """The batches of one metric; overriding the layout (one big block) gives the reference model.

    Values are computed group by group (``units_per_group`` units) and span by span; each time chunk
    of ``chunk`` samples of a group is cut into batches of ``series_per_batch`` consecutive series
    (default: the whole group). Each series' runs come in time order in every layout, and the data
    (and the digest) do not depend on the layout.

    ``labels``: label columns shared with the previous metric (see :class:`ColumnCache`).
    """
    columns = labels if labels is not None else ColumnCache()
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
        if not spec.jitter:  # aligned timestamps: the grid, once; with jitter every series' times
            hasher.update(f"{topo.start_ms},{n_times},{interval}".encode())
    combo = np.arange(1, per_unit + 1, dtype=np.uint64)
    hours = np.arange(n_times) * (interval / 3.6e6) + topo.start_ms / 3.6e6
    # the daily shape depends on region and time only: once per metric, not once per batch
    diurnal_all = models.diurnal(hours[None, :] + topo.utc_offset_h[:, None])
    ts_offsets: dict[tuple[int, int], np.ndarray] = {}  # (samples, series) -> time offsets of a batch
    for u0 in range(0, plan.n_units, upg):
        u1 = min(plan.n_units, u0 + upg)
        s0, s1 = u0 * per_unit, u1 * per_unit
        spb = min(s1 - s0, series_per_batch or (s1 - s0))
        ukeys = plan.unit_keys[u0:u1]
        skeys = models.mix64(ukeys[:, None] * np.uint64(31) + combo[None, :])
        skeys = (skeys >> np.uint64(40)).astype(np.int64)
        block = models.Block(table=table, keys=skeys, unit_keys=ukeys,
                             unit_offsets=(ukeys >> np.uint64(40)).astype(np.int64), diurnal=np.empty(0),
                             t0=0, t1=0, dt=spec.scrape_interval, n_times=n_times,
                             resets=plan.unit_resets[u0:u1], share=share)
        diurnal_group = diurnal_all[plan.unit_region[u0:u1]]
        cache: dict[tuple[int, int], list[pa.Array]] = {}
        # one digest per series, fed with its runs in time order and folded into the metric's in
        # series order once the group is done: the same digest for every layout
        # (with jitter a second one per series for its timestamps)
        n_dig = (2 if spec.jitter else 1) * (s1 - s0) if hasher is not None else 0
        digests = [hashlib.sha256() for _ in range(n_dig)]
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
                jit = None
                if spec.jitter:
                    block.t0, block.t1 = t0, t1
                    jit = block.noise(skeys ^ np.int64(0x5A5A5)).reshape(s1 - s0, c)
                for a0 in range(0, s1 - s0, spb):
                    a1 = min(s1 - s0, a0 + spb)
                    k = a1 - a0
                    cols = cache.get((c, a0))
                    if cols is None:
                        cols = cache[(c, a0)] = [columns.column(plan, n, s0 + a0, s0 + a1, c) for n in names]
                    offsets = ts_offsets.get((c, k))
                    if offsets is None:
                        offsets = ts_offsets[(c, k)] = np.tile(np.arange(c, dtype=np.int64) * interval, k)
                    values = np.ascontiguousarray(span_values[a0:a1, t0 - v0 : t1 - v0]).reshape(-1)
                    ts = offsets + (topo.start_ms + t0 * interval)
                    if jit is not None:
                        ts += ((jit[a0:a1] + 1.0) * (interval * 3 / 16)).astype(np.int64).reshape(-1)
                    for i in range(k) if hasher is not None else ():
                        digests[a0 + i].update(values[i * c : (i + 1) * c].data)
                        if jit is not None:
                            digests[s1 - s0 + a0 + i].update(ts[i * c : (i + 1) * c].data)
                    rb = pa.RecordBatch.from_arrays([pa.array(ts), pa.array(values), *cols], schema=schema)
                    yield MetricBatch(m.name, rb, k, m.kind, run_key=s0 + a0, final=t1 == n_times)
        for i in range(s1 - s0) if hasher is not None else ():
            hasher.update(digests[i].digest())
            if spec.jitter:
                hasher.update(digests[s1 - s0 + i].digest())


class ColumnCache:
    """Label columns of the current and the previous metric, reused when equal (bounded in bytes).

    Consecutive metrics of the same entities (cAdvisor's container_* family) and the series of one
    metric that share a value (one-series batches: constant columns) reuse a column instead of
    building it again. Columns beyond ``budget`` bytes per metric are built but not kept.
    """

    def __init__(self, budget: int = 256 * 2**20) -> None:
        self.budget = budget
        self.previous: dict[tuple, pa.Array] = {}
        self.current: dict[tuple, pa.Array] = {}
        self.nbytes = 0
        #: offsets of constant columns by (value length, rows): one buffer for all equally long values
        self.offsets: dict[tuple[int, int], pa.Buffer] = {}

    def next_metric(self) -> None:
        self.previous, self.current, self.nbytes = self.current, {}, 0

    def column(self, plan: MetricPlan, name: str, s0: int, s1: int, c: int) -> pa.Array:
        """The label column of series [s0, s1) x c samples each."""
        ids = plan.idx[name][s0:s1]
        key = (name, c, id(plan.dicts[name]), ids.tobytes())
        col = self.current.get(key)
        if col is not None:
            return col
        col = self.previous.get(key)
        if col is None:
            if len(ids) == 1:  # one series: a constant column, written directly (no take)
                value = plan.dicts[name][int(ids[0])].as_py().encode()
                offsets = self.offsets.get((len(value), c))
                if offsets is None:
                    offsets = self.offsets[(len(value), c)] = pa.py_buffer(
                        np.arange(c + 1, dtype=np.int32) * np.int32(len(value)))
                col = pa.StringArray.from_buffers(c, offsets, pa.py_buffer(value * c))
            else:
                col = plan.dicts[name].take(pa.array(np.repeat(ids, c)))
        if self.nbytes + col.nbytes <= self.budget:
            self.current[key] = col
            self.nbytes += col.nbytes
        return col


def model_table(spec: SeedSpec, metric: str, slice_name: str = "main") -> pa.Table:
    """The whole metric of a slice as one table, computed as a single block (no streaming).

    Tests compare what sinks delivered with this: same formulas, independent batching.
    """
    topo = build_topology(spec, slice_name)
    plan = plan_metric(spec, topo, catalog.METRICS[metric])
    batches = [b.batch for b in metric_batches(spec, plan, units_per_group=plan.n_units, chunk=topo.n_times)]
    return pa.Table.from_batches(batches)
