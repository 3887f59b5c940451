"""The sample app's self-test (the same one the image runs in CI) and the check behind it."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent import futures
from types import ModuleType

import grpc
import pytest
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.metrics.v1 import metrics_pb2

from fixtures.checks.manifests import MANIFESTS_DIR

APP = MANIFESTS_DIR / "sample-app" / "sample_app.py"


@pytest.fixture(scope="module")
def app() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_app", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_self_test_exports_every_kind_over_real_otlp_grpc() -> None:
    """As the container runs it: a real SDK, a real gRPC exporter, an in-process receiver."""
    result = subprocess.run(
        [sys.executable, str(APP), "--self-test"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "8 instruments" in result.stdout


def test_instruments_cover_all_kinds_with_int_and_double(app: ModuleType) -> None:
    kinds = {(kind, typ) for _name, kind, typ in app.INSTRUMENTS}
    assert kinds == {
        (k, t) for k in ("counter", "up_down_counter", "histogram", "gauge") for t in (int, float)
    }


def _request(
    app: ModuleType, drop: str = "", int_as_double: bool = False
) -> metrics_service_pb2.ExportMetricsServiceRequest:
    """A well-formed export of every instrument, optionally with one missing or ints sent as doubles."""
    metrics = []
    for name, kind, typ in app.INSTRUMENTS:
        if name == drop:
            continue
        m = metrics_pb2.Metric(name=name)
        if kind == "histogram":
            m.histogram.data_points.add(count=2, sum=3.0, bucket_counts=[1, 1], explicit_bounds=[1.0])
        else:
            data = m.gauge if kind == "gauge" else m.sum
            if kind != "gauge":
                data.is_monotonic = kind == "counter"
            point = data.data_points.add()
            if typ is int and not int_as_double:
                point.as_int = 3
            else:
                point.as_double = 3.0
        metrics.append(m)
    return metrics_service_pb2.ExportMetricsServiceRequest(
        resource_metrics=[
            metrics_pb2.ResourceMetrics(scope_metrics=[metrics_pb2.ScopeMetrics(metrics=metrics)])
        ]
    )


def test_check_accepts_a_complete_export(app: ModuleType) -> None:
    assert app.check_export([_request(app)]) == []


def test_check_reports_a_missing_gauge(app: ModuleType) -> None:
    assert app.check_export([_request(app, drop="sample_app_threads")]) == [
        "sample_app_threads: not received"
    ]


def test_check_reports_int_points_sent_as_double(app: ModuleType) -> None:
    problems = app.check_export([_request(app, int_as_double=True)])
    assert len(problems) == 3 and all("expected as_int" in p for p in problems)


def test_check_reports_a_counter_that_is_not_monotonic(app: ModuleType) -> None:
    request = _request(app)
    request.resource_metrics[0].scope_metrics[0].metrics[0].sum.is_monotonic = False
    assert app.check_export([request]) == ["sample_app_requests: is_monotonic=False, expected True"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _poll(port: int, path: str, want: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    last = 0
    while time.monotonic() < deadline and proc.poll() is None:
        last = _status(port, path)
        if last == want:
            return
        time.sleep(0.1)
    pytest.fail(f"GET {path} never answered {want} within {timeout}s (last {last}, exit {proc.poll()})")


def test_service_mode_probes_follow_the_exports(app: ModuleType) -> None:
    """/healthz is up while the loop runs; /readyz only once an export reached a receiver."""
    receiver = app._Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(receiver, server)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    health = _free_port()
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_free_port()}",
        "EXPORT_INTERVAL_S": "0.5",
        "HEALTH_PORT": str(health),
    }
    proc = subprocess.Popen(
        [sys.executable, str(APP)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _poll(health, "/healthz", 200, proc)
        assert _status(health, "/readyz") == 503, "ready without any successful export"
    finally:
        proc.kill()  # its exporter would retry the dead endpoint until its timeout on shutdown
        proc.wait(timeout=30)
    env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{grpc_port}"
    server.start()
    proc = subprocess.Popen(
        [sys.executable, str(APP)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _poll(health, "/readyz", 200, proc)
        assert app.check_export(receiver.requests) == []
        proc.terminate()
        assert proc.wait(timeout=30) == 0, "SIGTERM must end the app cleanly"
    finally:
        proc.kill()
        server.stop(grace=None)
