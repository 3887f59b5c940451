"""A stand-in ``tsdb_server`` for the local stack's MyTSDB path (MyTSDB cannot run here).

It keeps the parts of MyTSDB's contract (../shared/mytsdb-contract.md) that
``fixtures/stacks/mytsdb_proc.py`` and the local stack depend on, and refuses everything else:
- exactly the flags ``--http-port N --arrow-port N --address HOST:PORT --data-dir DIR
  --log-level debug|info|warn|error|off``, each as two arguments; any other flag (also an
  abbreviation or ``--flag=value``) or a bad value: message on stderr, exit 1;
- start order storage, HTTP, OTLP, Flight: ``GET /health`` answers ``{"status":"up"}`` before
  Flight listens (``FAKE_TSDB_FLIGHT_DELAY`` seconds later, default 1), so a caller that waits for
  ``/health`` alone would seed too early;
- Flight DoPut through ``seeder.contract_server`` (MyTSDB's schema and ordering rules), OTLP
  Export through ``tests.unit.support.otlp_receiver`` (MyTSDB's OTLP rules);
- SIGTERM: exit 0 after a pause (MyTSDB sleeps ~5 s; ``FAKE_TSDB_EXIT_DELAY``, default 0.5).
``GET /fake/stats`` (not a MyTSDB endpoint) reports what arrived, for the test's assertions; the
data dir gets a ``fake-was-here`` marker so a test can see that it started fresh.

Run: ``python -m tests.unit.support.tsdb_server --http-port 9090 ...`` (the local-stack test wraps it
in an executable ``tsdb_server`` script, so it is started exactly like the real binary; the
docker-stack test runs it as a container's entrypoint with ``FAKE_TSDB_BIND=0.0.0.0``).
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import sys
import threading
import time
from concurrent import futures
from typing import Any

LOG_LEVELS = ("debug", "info", "warn", "error", "off")
FLAGS = {"--http-port": int, "--arrow-port": int, "--address": str, "--data-dir": str, "--log-level": str}
DEFAULTS: dict[str, Any] = {"--http-port": 9090, "--arrow-port": 8815, "--address": "0.0.0.0:4317",
                            "--data-dir": "/tmp/tsdb", "--log-level": "info"}


def parse_flags(argv: list[str]) -> dict[str, Any]:
    """MyTSDB's flag contract; raises ValueError naming the offending argument."""
    values = dict(DEFAULTS)
    i = 0
    while i < len(argv):
        flag = argv[i]
        if flag not in FLAGS:
            raise ValueError(f"unknown flag {flag!r}")
        if i + 1 >= len(argv):
            raise ValueError(f"flag {flag} needs a value")
        raw = argv[i + 1]
        try:
            values[flag] = FLAGS[flag](raw)
        except ValueError:
            raise ValueError(f"bad value {raw!r} for {flag}") from None
        i += 2
    if values["--log-level"] not in LOG_LEVELS:
        raise ValueError(f"bad value {values['--log-level']!r} for --log-level")
    host, _, port = str(values["--address"]).rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"bad value {values['--address']!r} for --address (HOST:PORT)")
    return values


class _OtlpState:
    """What ``tests.unit.support.otlp_receiver._Servicer`` records into."""

    def __init__(self) -> None:
        self.requests: list[object] = []
        self.calls = 0
        self.lock = threading.Lock()
        self.fail_with = None
        self.reject_points = 0


def main(argv: list[str]) -> int:
    try:
        flags = parse_flags(argv)
    except ValueError as exc:
        print(f"tsdb_server: {exc}", file=sys.stderr, flush=True)
        return 1
    import grpc
    from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as svc_grpc

    from seeder.contract_server import ContractFlightServer
    from tests.unit.support.otlp_receiver import _Servicer

    data_dir = flags["--data-dir"]
    os.makedirs(data_dir, exist_ok=True)  # storage first
    fresh = not os.listdir(data_dir)
    with open(os.path.join(data_dir, "fake-was-here"), "w") as marker:
        marker.write("fresh data dir\n" if fresh else "data dir was not empty\n")
    bind = os.environ.get("FAKE_TSDB_BIND", "127.0.0.1")
    otlp = _OtlpState()
    flight: list[ContractFlightServer] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                body: dict[str, Any] = {"status": "up"}
            elif self.path == "/fake/stats":
                server = flight[0] if flight else None
                body = {"flight_rows": server.rows if server else 0,
                        "flight_series": len(server.series()) if server else 0,
                        "flight_violations": server.violations if server else [],
                        "otlp_calls": otlp.calls, "otlp_requests": len(otlp.requests),
                        "data_dir": data_dir, "data_dir_files": sorted(os.listdir(data_dir)),
                        "started_fresh": fresh}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            """Quiet."""

    http_server = http.server.ThreadingHTTPServer((bind, flags["--http-port"]), Handler)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    svc_grpc.add_MetricsServiceServicer_to_server(_Servicer(otlp), grpc_server)  # type: ignore[arg-type]
    grpc_server.add_insecure_port(flags["--address"])
    grpc_server.start()
    print(f"fake tsdb_server: HTTP {flags['--http-port']}, OTLP {flags['--address']}", flush=True)

    def on_term(signum: int, frame: object) -> None:
        time.sleep(float(os.environ.get("FAKE_TSDB_EXIT_DELAY", "0.5")))  # MyTSDB's fixed pause
        print("fake tsdb_server: clean exit", flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, on_term)
    time.sleep(float(os.environ.get("FAKE_TSDB_FLIGHT_DELAY", "1.0")))  # Flight starts last
    flight.append(ContractFlightServer(f"grpc+tcp://{bind}:{flags['--arrow-port']}", mode="record"))
    print(f"fake tsdb_server: Flight {flags['--arrow-port']}", flush=True)
    flight[0].serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
