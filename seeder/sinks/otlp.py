"""OTLP/gRPC metrics export (``MetricsService/Export``) with the official generated stubs.

Mapping (MyTSDB stores metric names and attribute keys verbatim, so nothing is renamed):

- counter -> ``Sum`` (cumulative, monotonic), ``as_double`` points; the start time is the series'
  first sample and moves just past the previous point when the value drops (a recorded reset).
- gauge -> ``Gauge`` with ``as_double`` points.
- the ``x_bucket``/``x_sum``/``x_count`` trio -> one explicit-bucket ``Histogram`` named ``x``
  (cumulative): bounds are the finite ``le`` values, bucket counts the differences of the
  cumulative ``le`` counts, ``count`` from ``x_count`` (else ``le="+Inf"``), ``sum`` from
  ``x_sum``. A ``_sum``/``_count`` without buckets goes out as a monotonic ``Sum`` under its name.
- labels: the 12 topology dimensions (``RESOURCE_LABELS``) become *resource* attributes (one
  ResourceMetrics per scrape target, as a collector would send); metric-specific labels
  (``phase``, ``mode``, ``cpu``, ``code``, ``method``, ...) become *point* attributes. The scope is
  left empty so no scope name can turn into an extra label.

A histogram family is buffered until its parts are complete (the next family or ``close()``),
which is meant for the OTLP slice; the whole 20M-sample main slice would hold a family in memory.

Many points go into one Export (MyTSDB flushes its store per Export): requests are cut at about
``max_request_bytes`` (default 2 MiB, under gRPC's 4 MiB default receive limit). ``UNAVAILABLE``
is retried until ``retry_deadline``; any other gRPC error, or a partial success that rejected
points, is a ``SinkError``.

Example::

    sink = OtlpSink("127.0.0.1:4317")
    sink.open(); [sink.write(b) for b in iter_batches(spec, "otlp")]; sink.close()
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable

import grpc
import numpy as np
import pyarrow as pa
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as svc_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

from seeder.errors import SinkError
from seeder.generate import MetricBatch
from seeder.sinks.base import Sink
from seeder.sinks.openmetrics import family_of, run_starts

RESOURCE_LABELS = frozenset({"region", "zone", "cluster", "namespace", "app", "service", "deployment",
                             "pod", "container", "node", "instance", "job"})
CUMULATIVE = mpb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
GRPC_LIMIT = 4 * 1024 * 1024
Labels = tuple[tuple[str, str], ...]


def _kvs(pairs: Iterable[tuple[str, str]]) -> list[KeyValue]:
    return [KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in pairs]


def _size(pairs: Iterable[tuple[str, str]]) -> int:
    """Encoded size of attributes, slightly over (tags and lengths of KeyValue/AnyValue)."""
    return sum(len(k) + len(v) + 8 for k, v in pairs)


class _Request:
    """One ExportMetricsServiceRequest being filled, grouped by resource then metric name."""

    def __init__(self) -> None:
        self.msg = svc.ExportMetricsServiceRequest()
        self.scopes: dict[Labels, tuple[mpb.ScopeMetrics, dict[str, mpb.Metric]]] = {}
        self.bytes = 0
        self.points = 0

    def metric(self, resource: Labels, name: str, shape: str) -> mpb.Metric:
        entry = self.scopes.get(resource)
        if entry is None:
            rm = self.msg.resource_metrics.add()
            rm.resource.attributes.extend(_kvs(resource))
            entry = self.scopes[resource] = (rm.scope_metrics.add(), {})
            self.bytes += _size(resource) + 16
        scope, metrics = entry
        metric = metrics.get(name)
        if metric is None:
            metric = metrics[name] = scope.metrics.add(name=name)
            if shape == "sum":
                metric.sum.aggregation_temporality = CUMULATIVE
                metric.sum.is_monotonic = True
            elif shape == "histogram":
                metric.histogram.aggregation_temporality = CUMULATIVE
            else:
                metric.gauge.SetInParent()
            self.bytes += len(name) + 16
        return metric


def split_labels(names: list[str], values: Iterable[str | None]) -> tuple[Labels, Labels]:
    """(resource attributes, point attributes) of one series, each sorted by key."""
    resource, point = [], []
    for key, value in zip(names, values, strict=True):
        if value is not None:
            (resource if key in RESOURCE_LABELS else point).append((key, value))
    return tuple(sorted(resource)), tuple(sorted(point))


class OtlpSink(Sink):
    """Exports batches to an OTLP/gRPC endpoint (plaintext).

    Args:
        endpoint: ``HOST:PORT`` (an ``http://`` prefix is accepted and dropped).
        max_request_bytes: approximate size at which an Export request is sent.
        timeout: seconds for connecting and for one Export call.
        retry_deadline: seconds an Export answered ``UNAVAILABLE`` may be retried.
        slices: slices to receive (default: only ``otlp``).
    """

    name = "otlp"
    default_slices = ("otlp",)

    def __init__(self, endpoint: str, *, max_request_bytes: int = 2 * 1024 * 1024, timeout: float = 30.0,
                 retry_deadline: float = 30.0, slices: tuple[str, ...] | None = None) -> None:
        super().__init__(slices)
        self.endpoint = endpoint.split("://", 1)[-1].rstrip("/")
        self.max_request_bytes = min(max_request_bytes, GRPC_LIMIT // 2)
        self.timeout = timeout
        self.retry_deadline = retry_deadline
        self._channel: grpc.Channel | None = None
        self._stub: svc_grpc.MetricsServiceStub | None = None
        self._req = _Request()
        self._starts: dict[tuple[str, Labels], tuple[int, float, int]] = {}
        self._family: str | None = None
        self._parts: dict[str, list[MetricBatch]] = defaultdict(list)
        self.exports = 0
        self.points = 0

    def describe(self) -> str:
        return self.endpoint

    def open(self) -> None:
        self._channel = grpc.insecure_channel(self.endpoint)
        try:
            grpc.channel_ready_future(self._channel).result(timeout=self.timeout)
        except grpc.FutureTimeoutError as exc:
            self.abort()
            raise SinkError(f"otlp: cannot connect to {self.endpoint} within {self.timeout:g}s") from exc
        self._stub = svc_grpc.MetricsServiceStub(self._channel)

    # -- batching ---------------------------------------------------------------------------------

    def write(self, batch: MetricBatch) -> None:
        if batch.batch.num_rows == 0:
            return
        family, om_type = family_of(batch.metric, batch.kind)
        if om_type == "histogram":
            if family != self._family:
                self._flush_family()
                self._family = family
            self._parts[batch.kind].append(batch)
            return
        self._flush_family()
        self._numbers(batch.metric, "gauge" if batch.kind == "gauge" else "sum", batch.batch)

    def _grow(self, cost: int) -> None:
        self._req.bytes += cost
        self._req.points += 1
        if self._req.bytes >= self.max_request_bytes:
            self._send()

    def _start_ns(self, key: tuple[str, Labels], t_ns: int, value: float) -> int:
        """Cumulative start time of a point: kept per series, moved past the last point on a drop."""
        prev = self._starts.get(key)
        start = t_ns if prev is None else (prev[2] + 1 if value < prev[1] else prev[0])
        self._starts[key] = (start, value, t_ns)
        return start

    def _numbers(self, name: str, shape: str, rb: pa.RecordBatch) -> None:
        names = rb.schema.names[2:]
        starts = run_starts(rb)
        ends = np.append(starts[1:], rb.num_rows)
        rows = zip(*(rb.column(i).take(pa.array(starts)).to_pylist() for i in range(2, rb.num_columns)),
                   strict=True) if names else [()] * len(starts)
        ts = (rb.column(0).to_numpy(zero_copy_only=False) * 1_000_000).tolist()
        vals = rb.column(1).to_numpy(zero_copy_only=False).tolist()
        for (lo, hi), values in zip(zip(starts.tolist(), ends.tolist(), strict=True), rows, strict=True):
            resource, point = split_labels(names, values)
            attrs, cost, key = _kvs(point), 32 + _size(point), (name, resource + point)
            for i in range(lo, hi):
                metric = self._req.metric(resource, name, shape)
                if shape == "sum":
                    metric.sum.data_points.add(time_unix_nano=ts[i], as_double=vals[i], attributes=attrs,
                                               start_time_unix_nano=self._start_ns(key, ts[i], vals[i]))
                else:
                    metric.gauge.data_points.add(time_unix_nano=ts[i], as_double=vals[i], attributes=attrs)
                self._grow(cost)

    def _flush_family(self) -> None:
        family, parts = self._family, self._parts
        self._family, self._parts = None, defaultdict(list)
        if family is None:
            return
        if not parts.get("histogram_bucket"):
            for kind in ("histogram_sum", "histogram_count"):
                for mb in parts.get(kind, []):
                    self._numbers(mb.metric, "sum", mb.batch)
            return
        self._histograms(family, parts)

    def _histograms(self, family: str, parts: dict[str, list[MetricBatch]]) -> None:
        cumulative: dict[Labels, dict[int, dict[float, float]]] = {}
        extra: dict[str, dict[tuple[Labels, int], float]] = {"histogram_sum": {}, "histogram_count": {}}
        for kind, batches in parts.items():
            for mb in batches:
                cols = mb.batch.to_pydict()
                names = [n for n in mb.batch.schema.names[2:] if n != "le"]
                les = cols.get("le")
                for i, (t, v) in enumerate(zip(cols[mb.batch.schema.names[0]], cols[mb.batch.schema.names[1]],
                                               strict=True)):
                    key = tuple((n, cols[n][i]) for n in names if cols[n][i] is not None)
                    if kind == "histogram_bucket":
                        if les is None:
                            raise SinkError(f"otlp: {mb.metric} has no 'le' label")
                        cumulative.setdefault(key, {}).setdefault(t, {})[float(les[i])] = v
                    else:
                        extra[kind][(key, t)] = v
        for key, by_time in cumulative.items():
            names = [k for k, _ in key]
            resource, point = split_labels(names, [v for _, v in key])
            attrs, skey = _kvs(point), (family, resource + point)
            for t in sorted(by_time):
                les = by_time[t]
                bounds = sorted(le for le in les if le != float("inf"))
                cum = [les[b] for b in bounds]
                total = extra["histogram_count"].get((key, t), les.get(float("inf"), cum[-1] if cum else 0.0))
                counts = np.diff([0.0, *cum, total])
                if (counts < 0).any() or not all(float(c).is_integer() for c in counts):
                    raise SinkError(f"otlp: {family} buckets of {dict(key)} at {t} ms are not cumulative "
                                    f"whole counts: {[*cum, total]}")
                t_ns = t * 1_000_000
                sums = extra["histogram_sum"]
                point_kwargs = {"sum": sums[(key, t)]} if (key, t) in sums else {}
                metric = self._req.metric(resource, family, "histogram")
                metric.histogram.data_points.add(
                    time_unix_nano=t_ns, start_time_unix_nano=self._start_ns(skey, t_ns, total),
                    count=int(total), bucket_counts=[int(c) for c in counts], explicit_bounds=bounds,
                    attributes=attrs, **point_kwargs)
                self._grow(48 + 16 * len(counts) + _size(point))

    # -- sending ----------------------------------------------------------------------------------

    def _send(self) -> None:
        req, self._req = self._req, _Request()
        if not req.points:
            return
        if self._stub is None:
            raise SinkError("otlp: write() before open()")
        size = req.msg.ByteSize()
        if size >= GRPC_LIMIT:
            raise SinkError(f"otlp: an Export request grew to {size} bytes (limit {GRPC_LIMIT}); "
                            f"lower max_request_bytes")
        deadline = time.monotonic() + self.retry_deadline
        backoff = 0.05
        while True:
            try:
                resp = self._stub.Export(req.msg, timeout=self.timeout)
                break
            except grpc.RpcError as exc:
                code, details = exc.code(), exc.details()  # type: ignore[attr-defined]
                if code != grpc.StatusCode.UNAVAILABLE or time.monotonic() + backoff > deadline:
                    raise SinkError(
                        f"otlp: Export to {self.endpoint} failed: {code.name}: {details}") from exc
            time.sleep(backoff)  # backoff between retries of UNAVAILABLE, bounded by the deadline
            backoff = min(backoff * 2, 2.0)
        rejected = resp.partial_success.rejected_data_points
        if rejected:
            raise SinkError(f"otlp: {self.endpoint} rejected {rejected} of {req.points} points: "
                            f"{resp.partial_success.error_message or '(no message)'}")
        self.exports += 1
        self.points += req.points

    def close(self) -> None:
        try:
            self._flush_family()
            self._send()
        finally:
            self.abort()

    def abort(self) -> None:
        if self._channel is not None:
            self._channel.close()
        self._channel, self._stub = None, None
        self._req, self._parts, self._family = _Request(), defaultdict(list), None
