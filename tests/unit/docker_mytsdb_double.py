"""A MyTSDB-shaped server for the docker stack's engine test; runs inside a container.

MyTSDB cannot run here, so the MyTSDB branch of the docker stack (flags, waits, ports, Flight +
OTLP seeding through published ports) is exercised against this double, which keeps MyTSDB's
contract (../shared/mytsdb-contract.md) where the stack depends on it:
- the flags of ``tsdb_server``; any other flag exits 1;
- start order: HTTP ``/health`` answers first, Flight listens only later (so a stack that waits
  for ``/health`` alone seeds too early and fails);
- Flight DoPut through ``seeder.contract_server`` (MyTSDB's schema and ordering rules);
- OTLP/gRPC Export checked by ``tests.unit.otlp_receiver.contract_violation``.
``GET /double/stats`` (not a MyTSDB endpoint) reports what arrived, for the test's assertions.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import sys
import threading
import time
from concurrent import futures

import grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as svc_grpc

from seeder.contract_server import ContractFlightServer
from tests.unit.otlp_receiver import _Servicer

FLIGHT_DELAY_S = 2.0  # imitates MyTSDB's start order (Flight last); not a synchronisation


class OtlpState:
    """What ``tests.unit.otlp_receiver._Servicer`` records into (the OtlpReceiver interface)."""

    def __init__(self) -> None:
        self.requests: list[object] = []
        self.calls = 0
        self.lock = threading.Lock()
        self.fail_with = None
        self.reject_points = 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--http-port", type=int, default=9090)
    parser.add_argument("--arrow-port", type=int, default=8815)
    parser.add_argument("--data-dir", default="/tmp/tsdb")
    parser.add_argument("--address", default="0.0.0.0:4317")
    parser.add_argument("--log-level", default="info")
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        print(f"tsdb_server double: unknown flag {unknown[0]}", file=sys.stderr)
        return 1
    os.makedirs(args.data_dir, exist_ok=True)
    with open(os.path.join(args.data_dir, "double-was-here"), "w") as marker:
        marker.write("fresh data dir\n")

    otlp = OtlpState()
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    svc_grpc.add_MetricsServiceServicer_to_server(_Servicer(otlp), grpc_server)  # type: ignore[arg-type]
    grpc_server.add_insecure_port(args.address)
    flight: list[ContractFlightServer] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/health":
                body = {"status": "up"}
            elif self.path == "/double/stats":
                server = flight[0] if flight else None
                body = {"flight_rows": server.rows if server else 0,
                        "flight_violations": server.violations if server else [],
                        "otlp_calls": otlp.calls, "otlp_requests": len(otlp.requests),
                        "data_dir": sorted(os.listdir(args.data_dir))}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

    http_server = http.server.ThreadingHTTPServer(("0.0.0.0", args.http_port), Handler)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    grpc_server.start()
    print(f"double: HTTP on {args.http_port}, OTLP on {args.address}", flush=True)
    time.sleep(FLIGHT_DELAY_S)
    flight.append(ContractFlightServer(f"grpc+tcp://0.0.0.0:{args.arrow_port}", mode="null"))
    print(f"double: Flight on {args.arrow_port}", flush=True)
    flight[0].serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
