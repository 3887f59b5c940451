"""Sample app: emits every synchronous OpenTelemetry instrument kind, with int and double points.

Why: the OTLP path (app -> OTel Collector -> MyTSDB) must carry what real SDKs send: a monotonic
Sum (counter), a non-monotonic Sum (up-down counter), an explicit-bucket Histogram and a Gauge,
each once with integer and once with floating-point measurements. MyTSDB reads only ``as_double``
points, so the integer instruments are how the harness sees that divergence.

Values are a deterministic function of the tick number (no randomness), so a test can predict them.

Run modes:
    python sample_app.py               export every EXPORT_INTERVAL_S to OTEL_EXPORTER_OTLP_ENDPOINT,
                                       health endpoints on :8080 (/healthz live, /readyz last export ok)
    python sample_app.py --self-test   export to an in-process OTLP/gRPC receiver, check that all four
                                       kinds arrived with int and double points; exit 0 or 1
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

SERVICE_NAME = "sample-app"
DEFAULT_ENDPOINT = "http://otel-collector.otel.svc.cluster.local:4317"
#: (name, instrument kind, point type): every kind once with int and once with double values
INSTRUMENTS: tuple[tuple[str, str, type], ...] = (
    ("sample_app_requests", "counter", int),
    ("sample_app_cpu_seconds", "counter", float),
    ("sample_app_inflight_requests", "up_down_counter", int),
    ("sample_app_queue_seconds", "up_down_counter", float),
    ("sample_app_payload_bytes", "histogram", int),
    ("sample_app_latency_seconds", "histogram", float),
    ("sample_app_threads", "gauge", int),
    ("sample_app_temperature_celsius", "gauge", float),
)
#: OTLP data field each instrument kind must arrive as, and whether a Sum is monotonic
OTLP_SHAPE = {"counter": ("sum", True), "up_down_counter": ("sum", False),
              "histogram": ("histogram", None), "gauge": ("gauge", None)}
ATTRIBUTES = ({"route": "/api/orders", "method": "GET"}, {"route": "/api/orders", "method": "POST"})


class Workload:
    """The instruments and the deterministic values recorded on each tick."""

    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter("mytsdb-harness.sample-app", "0.1.0")
        create = {"counter": meter.create_counter, "up_down_counter": meter.create_up_down_counter,
                  "histogram": meter.create_histogram, "gauge": meter.create_gauge}
        self.instruments = {name: (kind, typ, create[kind](name)) for name, kind, typ in INSTRUMENTS}
        self.ticks = 0

    def tick(self) -> None:
        """Record one round of measurements on every instrument and attribute set."""
        self.ticks += 1
        n = self.ticks
        for index, attrs in enumerate(ATTRIBUTES):
            for kind, typ, instrument in self.instruments.values():
                base = (n % 7) + index + 1  # 1..8, never 0, so every point is visible
                value: int | float = base if typ is int else base + 0.25
                if kind in ("counter", "up_down_counter"):
                    instrument.add(value if kind == "counter" or n % 3 else -value, attrs)
                elif kind == "histogram":
                    instrument.record(value * (100 if typ is int else 0.01), attrs)
                else:
                    instrument.set(value * 10, attrs)


class TrackedExporter(OTLPMetricExporter):
    """OTLP exporter that remembers when an export last succeeded (for /readyz)."""

    last_success: float | None = None

    def export(self, metrics_data: Any, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        result = super().export(metrics_data, timeout_millis=timeout_millis, **kwargs)
        if result is MetricExportResult.SUCCESS:
            self.last_success = time.monotonic()
        return result


def make_provider(exporter: OTLPMetricExporter, interval_s: float) -> MeterProvider:
    """A MeterProvider exporting through ``exporter`` every ``interval_s`` seconds."""
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_s * 1000)
    resource = Resource.create({"service.name": SERVICE_NAME, "service.version": "0.1.0"})
    return MeterProvider(resource=resource, metric_readers=[reader])


# ---------------------------------------------------------------------------------------------
# self-test: a real OTLP/gRPC receiver in-process, built on the official generated stubs
# ---------------------------------------------------------------------------------------------


class _Receiver(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self) -> None:
        self.requests: list[metrics_service_pb2.ExportMetricsServiceRequest] = []

    def Export(self, request: Any, context: Any) -> Any:
        self.requests.append(request)
        return metrics_service_pb2.ExportMetricsServiceResponse()


def check_export(requests: Sequence[Any]) -> list[str]:
    """Problems with what a receiver got, compared with INSTRUMENTS (empty list: all good)."""
    seen: dict[str, Any] = {}
    for request in requests:
        for rm in request.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    seen[metric.name] = metric
    problems = []
    for name, kind, typ in INSTRUMENTS:
        metric = seen.get(name)
        if metric is None:
            problems.append(f"{name}: not received")
            continue
        field, monotonic = OTLP_SHAPE[kind]
        if metric.WhichOneof("data") != field:
            problems.append(f"{name}: arrived as {metric.WhichOneof('data')}, expected {field}")
            continue
        data = getattr(metric, field)
        if monotonic is not None and data.is_monotonic != monotonic:
            problems.append(f"{name}: is_monotonic={data.is_monotonic}, expected {monotonic}")
        points = list(data.data_points)
        if not points:
            problems.append(f"{name}: no data points")
        elif field == "histogram":
            if any(p.count == 0 or len(p.bucket_counts) < 2 for p in points):
                problems.append(f"{name}: histogram point without observations or buckets")
        else:
            want = "as_int" if typ is int else "as_double"
            wrong = [p.WhichOneof("value") for p in points if p.WhichOneof("value") != want]
            if wrong:
                problems.append(f"{name}: points are {wrong[0]}, expected {want}")
    return problems


def self_test() -> int:
    """Export two ticks to an in-process receiver and check every kind and point type arrived."""
    receiver = _Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(receiver, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        exporter = TrackedExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=10)
        provider = make_provider(exporter, interval_s=3600)
        workload = Workload(provider)
        workload.tick()
        workload.tick()
        flushed = provider.force_flush(timeout_millis=10_000)
        provider.shutdown()
    finally:
        server.stop(grace=None)
    problems = check_export(receiver.requests)
    if not flushed or exporter.last_success is None:
        problems.insert(0, f"export to the in-process receiver on 127.0.0.1:{port} did not succeed")
    if problems:
        print(f"self-test: FAILED: {'; '.join(problems)}", file=sys.stderr)
        return 1
    print(f"self-test: ok: {len(INSTRUMENTS)} instruments (counter, up-down counter, histogram, gauge; "
          f"int and double points) received over OTLP/gRPC")
    return 0


# ---------------------------------------------------------------------------------------------
# service mode
# ---------------------------------------------------------------------------------------------


def _health_handler(state: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            now = time.monotonic()
            if self.path == "/healthz":
                ok = now - state["last_tick"] < 3 * state["interval"] + 5
            elif self.path == "/readyz":
                last = state["exporter"].last_success
                ok = last is not None and now - last < 3 * state["interval"] + 5
            else:
                self.send_error(404)
                return
            self.send_response(200 if ok else 503)
            self.end_headers()
            self.wfile.write(b"ok\n" if ok else b"not ok\n")

        def log_message(self, format: str, *args: Any) -> None:
            """Silence per-request logs (probes every few seconds)."""

    return Handler


def serve(endpoint: str, interval_s: float, health_port: int) -> int:
    """Record every ``interval_s`` and export until SIGTERM."""
    exporter = TrackedExporter(endpoint=endpoint, insecure=True, timeout=10)
    provider = make_provider(exporter, interval_s)
    workload = Workload(provider)
    state = {"last_tick": time.monotonic(), "interval": interval_s, "exporter": exporter}
    health = ThreadingHTTPServer(("0.0.0.0", health_port), _health_handler(state))
    threading.Thread(target=health.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"sample-app: exporting to {endpoint} every {interval_s:g}s; health on :{health_port}", flush=True)
    while not stop.is_set():
        workload.tick()
        state["last_tick"] = time.monotonic()
        stop.wait(interval_s)
    provider.shutdown()
    health.shutdown()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--self-test", action="store_true",
                        help="Export to an in-process OTLP receiver, check the result, exit 0/1")
    args = parser.parse_args(argv)
    if args.self_test:
        return self_test()
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", DEFAULT_ENDPOINT)
    interval = float(os.environ.get("EXPORT_INTERVAL_S", "10"))
    return serve(endpoint, interval, int(os.environ.get("HEALTH_PORT", "8080")))


if __name__ == "__main__":
    sys.exit(main())
