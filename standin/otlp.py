"""OTLP/gRPC ``MetricsService/Export`` as MyTSDB reads it: the contract check, the decode, the service.

``contract_violation`` refuses what MyTSDB would mis-store (../shared/mytsdb-contract.md): number
points that are not ``as_double`` (MyTSDB stores integer points as 0), non-cumulative sums and
histograms, inconsistent explicit-bucket histograms, and shapes MyTSDB drops (exponential
histograms, summaries). A violation is answered ``INVALID_ARGUMENT``, so a sender bug fails
loudly instead of being stored wrongly.

``decode`` turns requests into series: names and attribute keys verbatim; resource, scope and
point attributes all become labels (later ones win on a clash); an explicit-bucket histogram
becomes ``<name>_bucket{le}`` (cumulative, ``le`` written as the seeder writes it: ``repr`` of the
bound, ``+Inf`` last), ``<name>_sum`` and ``<name>_count``. With ``packed_histograms`` it also
writes the series MyTSDB itself makes of a histogram: one series under the bare name, holding
count at t, sum at t+1 ms and the bucket counts at t+2+i ms (MyTSDB's bridge.cpp), so a client
that looks a histogram up by its OTLP name finds it as on MyTSDB. Integer points keep their value.

``OtlpService`` checks (``strict``: a sender's test double refuses what MyTSDB would mis-store; the
stand-in server, like MyTSDB, accepts every Export), counts and hands the decoded runs to a
``forward`` callable (the stand-in's Prometheus) before it answers, so an acknowledged Export is
queryable. Exponential histograms and summaries are dropped, as MyTSDB drops them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

import grpc
import numpy as np
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as svc_grpc
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

from standin.errors import ForwardError
from standin.forward import Labels, Run

CUMULATIVE = mpb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE
Decoded = dict[tuple[str, Labels], list[tuple[int, float]]]


def contract_violation(request: svc.ExportMetricsServiceRequest) -> str | None:
    """Why MyTSDB would mis-store this request, or None."""
    for rm in request.resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                shape = m.WhichOneof("data")
                if shape in ("sum", "gauge"):
                    points = getattr(m, shape).data_points
                    if shape == "sum" and m.sum.aggregation_temporality != CUMULATIVE:
                        return f"{m.name}: sum is not cumulative"
                    if any(p.WhichOneof("value") != "as_double" for p in points):
                        return f"{m.name}: a number point is not as_double"
                elif shape == "histogram":
                    if m.histogram.aggregation_temporality != CUMULATIVE:
                        return f"{m.name}: histogram is not cumulative"
                    for p in m.histogram.data_points:
                        if len(p.bucket_counts) != len(p.explicit_bounds) + 1:
                            return (f"{m.name}: {len(p.bucket_counts)} buckets "
                                    f"for {len(p.explicit_bounds)} bounds")
                        if sum(p.bucket_counts) != p.count:
                            return f"{m.name}: bucket counts sum to {sum(p.bucket_counts)}, count {p.count}"
                else:
                    return f"{m.name}: {shape} is not stored by MyTSDB"
    return None


def _attrs(kvs: Iterable[object]) -> list[tuple[str, str]]:
    return [(kv.key, kv.value.string_value) for kv in kvs]  # type: ignore[attr-defined]


def le_text(bound: float) -> str:
    """A bucket bound as the seeder's ``le`` label writes it (``repr``, ``+Inf``)."""
    return "+Inf" if bound == float("inf") else repr(bound)


def _number(point: object) -> float:
    """A number point's value, integer or double."""
    return point.as_double if point.WhichOneof("value") == "as_double" else float(point.as_int)  # type: ignore[attr-defined]


def decode(requests: Iterable[svc.ExportMetricsServiceRequest], *,
           packed_histograms: bool = False) -> Decoded:
    """Every point received, per (name, sorted labels): [(t_ms, value)] in arrival order."""
    got: Decoded = {}

    def add(name: str, labels: dict[str, str], t_ns: int, value: float) -> None:
        got.setdefault((name, tuple(sorted(labels.items()))), []).append((t_ns // 1_000_000, value))

    for request in requests:
        for rm in request.resource_metrics:
            resource = _attrs(rm.resource.attributes)
            for sm in rm.scope_metrics:
                scope = resource + _attrs(sm.scope.attributes)
                for m in sm.metrics:
                    shape = m.WhichOneof("data")
                    if shape in ("sum", "gauge"):
                        for p in getattr(m, shape).data_points:
                            add(m.name, dict(scope + _attrs(p.attributes)), p.time_unix_nano, _number(p))
                        continue
                    if shape != "histogram":
                        continue  # exponential histograms and summaries: MyTSDB drops them
                    for p in m.histogram.data_points:
                        labels = dict(scope + _attrs(p.attributes))
                        if packed_histograms:
                            packed = [float(p.count), p.sum, *map(float, p.bucket_counts)]
                            for offset, value in enumerate(packed):
                                add(m.name, labels, p.time_unix_nano + offset * 1_000_000, value)
                        running = 0
                        for bound, count in zip([*p.explicit_bounds, float("inf")], p.bucket_counts,
                                                strict=True):
                            running += count
                            add(f"{m.name}_bucket", {**labels, "le": le_text(bound)}, p.time_unix_nano,
                                float(running))
                        add(f"{m.name}_sum", labels, p.time_unix_nano, p.sum)
                        add(f"{m.name}_count", labels, p.time_unix_nano, float(p.count))
    return got


def to_runs(decoded: Decoded) -> list[Run]:
    """Decoded points as series writes (time order kept as sent)."""
    return [(name, labels, np.array([t for t, _ in points], np.int64), np.array([v for _, v in points]))
            for (name, labels), points in decoded.items()]


class OtlpService(svc_grpc.MetricsServiceServicer):
    """MetricsService/Export: check, forward (if given), then acknowledge; counts what it saw."""

    def __init__(self, forward: Callable[[Sequence[Run]], object] | None = None,
                 on_error: Callable[[str], None] | None = None, *, strict: bool = True) -> None:
        self.forward = forward
        self.strict = strict
        self.on_error = on_error
        self.lock = threading.Lock()
        self.calls = 0
        self.accepted = 0
        self.points = 0

    def Export(self, request: svc.ExportMetricsServiceRequest,
               context: grpc.ServicerContext) -> svc.ExportMetricsServiceResponse:
        with self.lock:
            self.calls += 1
        problem = contract_violation(request) if self.strict else None
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        runs = to_runs(decode([request], packed_histograms=not self.strict))
        if self.forward is not None:
            try:
                self.forward(runs)
            except ForwardError as exc:
                if self.on_error is not None:
                    self.on_error(str(exc))
                context.abort(grpc.StatusCode.INTERNAL, str(exc))
        with self.lock:
            self.accepted += 1
            self.points += sum(len(run[2]) for run in runs)
        return svc.ExportMetricsServiceResponse()

    def stats(self) -> dict[str, int]:
        """What arrived, for a double's diagnostics."""
        with self.lock:
            return {"otlp_calls": self.calls, "otlp_requests": self.accepted, "otlp_samples": self.points}
