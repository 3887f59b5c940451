"""An in-process OTLP/gRPC metrics receiver on loopback, built on the official generated stubs.

It stands in for MyTSDB's OTLP endpoint (which cannot run here) and enforces what MyTSDB reads
(see ../shared/mytsdb-contract.md): number points must be ``as_double`` (MyTSDB stores integer
points as 0), sums and histograms cumulative, histograms explicit-bucket and self-consistent;
exponential histograms and summaries (dropped by MyTSDB) are refused. A violation is answered
``INVALID_ARGUMENT``, so a sink bug fails loudly instead of being recorded.

``decode()`` turns what arrived back into the model view of ``sink_support`` (a histogram becomes
its ``_bucket{le}``/``_sum``/``_count`` series, ``le`` as a float repr), so tests compare it with
the generator's model built with ``le_float=True``.

Example::

    with OtlpReceiver() as rx:
        sink = OtlpSink(rx.endpoint); ...
        assert_model_equal(decode(rx.requests), model_of(batches, le_float=True))
"""

from __future__ import annotations

import threading
from concurrent import futures
from types import TracebackType

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2 as svc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as svc_grpc
from opentelemetry.proto.metrics.v1 import metrics_pb2 as mpb

from tests.unit.support.sinks import Model, norm_labels

CUMULATIVE = mpb.AggregationTemporality.AGGREGATION_TEMPORALITY_CUMULATIVE


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


class _Servicer(svc_grpc.MetricsServiceServicer):
    def __init__(self, owner: OtlpReceiver) -> None:
        self.owner = owner

    def Export(self, request: svc.ExportMetricsServiceRequest,
               context: grpc.ServicerContext) -> svc.ExportMetricsServiceResponse:
        owner = self.owner
        with owner.lock:
            owner.calls += 1
            if owner.fail_with is not None:
                context.abort(owner.fail_with, "receiver told to fail")
            problem = contract_violation(request)
            if problem:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
            owner.requests.append(request)
            resp = svc.ExportMetricsServiceResponse()
            if owner.reject_points:
                resp.partial_success.rejected_data_points = owner.reject_points
                resp.partial_success.error_message = "receiver told to reject"
            return resp


class OtlpReceiver:
    """gRPC MetricsService on 127.0.0.1:<free port>; ``requests`` holds every accepted Export.

    Args:
        fail_with: answer every Export with this status code.
        reject_points: report this many rejected points in partial_success.
    """

    def __init__(self, *, fail_with: grpc.StatusCode | None = None, reject_points: int = 0) -> None:
        self.fail_with = fail_with
        self.reject_points = reject_points
        self.requests: list[svc.ExportMetricsServiceRequest] = []
        self.calls = 0
        self.lock = threading.Lock()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        svc_grpc.add_MetricsServiceServicer_to_server(_Servicer(self), self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"127.0.0.1:{self.port}"

    def __enter__(self) -> OtlpReceiver:
        self._server.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._server.stop(grace=None).wait(5)


def _attrs(kvs: object) -> list[tuple[str, str]]:
    return [(kv.key, kv.value.string_value) for kv in kvs]  # type: ignore[attr-defined]


def decode(requests: list[svc.ExportMetricsServiceRequest]) -> Model:
    """Everything received, as a model: resource + point attributes become labels."""
    got: Model = {}

    def add(name: str, labels: list[tuple[str, str]], t_ns: int, value: float) -> None:
        got.setdefault((name, norm_labels(labels, le_float=True)), []).append((t_ns // 1_000_000, value))

    for request in requests:
        for rm in request.resource_metrics:
            resource = _attrs(rm.resource.attributes)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    shape = m.WhichOneof("data")
                    if shape in ("sum", "gauge"):
                        for p in getattr(m, shape).data_points:
                            add(m.name, resource + _attrs(p.attributes), p.time_unix_nano, p.as_double)
                        continue
                    for p in m.histogram.data_points:
                        labels = resource + _attrs(p.attributes)
                        running = 0
                        bounds = [*p.explicit_bounds, float("inf")]
                        for bound, count in zip(bounds, p.bucket_counts, strict=True):
                            running += count
                            add(f"{m.name}_bucket", [*labels, ("le", repr(bound))], p.time_unix_nano,
                                float(running))
                        add(f"{m.name}_sum", labels, p.time_unix_nano, p.sum)
                        add(f"{m.name}_count", labels, p.time_unix_nano, float(p.count))
    return got
