"""An in-process OTLP/gRPC metrics receiver on loopback, built on the official generated stubs.

It stands in for MyTSDB's OTLP endpoint (which cannot run here) and enforces what MyTSDB reads
with ``standin.otlp.contract_violation`` (the one implementation, shared with the MyTSDB
stand-in): a violation is answered ``INVALID_ARGUMENT``, so a sink bug fails loudly instead of
being recorded. On top of the stand-in it can be told to fail or to report rejected points, and
it keeps every accepted request.

``decode()`` turns what arrived back into the model view of ``sink_support`` (``standin.otlp.decode``:
a histogram becomes its ``_bucket{le}``/``_sum``/``_count`` series; here ``le`` is normalised to a
float repr), so tests compare it with the generator's model built with ``le_float=True``.

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

from standin.otlp import contract_violation
from standin.otlp import decode as standin_decode
from tests.unit.support.sinks import Model, norm_labels

__all__ = ["OtlpReceiver", "contract_violation", "decode"]


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


def decode(requests: list[svc.ExportMetricsServiceRequest]) -> Model:
    """Everything received, as a model (``le`` compared as a float repr, see ``norm_labels``)."""
    return {(name, norm_labels(labels, le_float=True)): points
            for (name, labels), points in standin_decode(requests).items()}
