"""The stand-in process: MyTSDB's flags, start order, listeners and SIGTERM, backed by Prometheus.

Start order as MyTSDB (../shared/mytsdb-contract.md): storage (the data dir and the internal
Prometheus, ready), HTTP, OTLP/gRPC, then Arrow Flight last, so ``/health`` answers before Flight
listens and a client must wait for the Flight port too. A failed HTTP or Flight bind is logged
and the process keeps running without that listener, as MyTSDB does. SIGTERM/SIGINT stop
everything in reverse order (Prometheus last) and exit 0.

Listen hosts: OTLP binds ``--address`` as given (MyTSDB's default is 0.0.0.0:4317); HTTP and
Flight bind ``Options.bind`` (``STANDIN_BIND``, default 0.0.0.0 like MyTSDB inside a container;
tests set 127.0.0.1). Signals are blocked and taken with ``sigwait``: no handler can run in the
middle of a start-up step, and a SIGTERM during start-up is acted on as soon as the step returns.

Environment (``python -m standin``): STANDIN_BIND, STANDIN_PROMETHEUS (binary, default
``prometheus`` on PATH), STANDIN_FLIGHT_DELAY / STANDIN_EXIT_DELAY (seconds, default 0: extra gap
before Flight listens, pause before exiting, as MyTSDB's ~5 s).
"""

from __future__ import annotations

import functools
import http.server
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pyarrow as pa
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc as svc_grpc

from standin.api import make_handler
from standin.errors import FlagError, StandinError
from standin.flags import Flags, parse_flags
from standin.flight import ForwardingFlightServer
from standin.forward import Forwarder
from standin.log import Log
from standin.otlp import OtlpService
from standin.prometheus import PrometheusChild

SIGNALS = (signal.SIGTERM, signal.SIGINT)
FLIGHT_SHUTDOWN_S = 10.0


@dataclass
class Options:
    """How this process differs from another run of the same double (not MyTSDB flags)."""

    banner: str = "mytsdb-standin"  # prefix of log lines
    bind: str = "0.0.0.0"  # HTTP and Flight listen host
    prometheus: str | None = "prometheus"  # binary; None: record only, the PromQL API answers 503
    flight_delay: float = 0.0
    exit_delay: float = 0.0
    routes: dict[str, Callable[[Standin], Any]] = field(default_factory=dict)  # extra GET JSON routes
    on_storage: Callable[[Path], None] | None = None  # called once the data dir exists


def env_float(name: str, default: float) -> float:
    """A finite number >= 0 from the environment; FlagError naming the variable otherwise."""
    raw = os.environ.get(name, "")
    try:
        value = float(raw) if raw.strip() else default
    except ValueError:
        raise FlagError(f"{name}={raw!r} is not a number") from None
    if not 0 <= value < float("inf"):
        raise FlagError(f"{name}={raw!r} must be a finite number >= 0")
    return value


def options_from_env() -> Options:
    """Options of ``python -m standin`` (see the module docstring)."""
    return Options(bind=os.environ.get("STANDIN_BIND", "0.0.0.0"),
                   prometheus=os.environ.get("STANDIN_PROMETHEUS") or "prometheus",
                   flight_delay=env_float("STANDIN_FLIGHT_DELAY", 0.0),
                   exit_delay=env_float("STANDIN_EXIT_DELAY", 0.0))


class Standin:
    """The listeners and the store of one stand-in process."""

    def __init__(self, flags: Flags, options: Options) -> None:
        self.flags = flags
        self.options = options
        self.log = Log(options.banner, flags.log_level)
        self.data_dir = Path(flags.data_dir)
        self.prometheus: PrometheusChild | None = None
        self.forward: Forwarder | None = None
        self.http: http.server.ThreadingHTTPServer | None = None
        self.otlp = OtlpService()
        self.otlp_server: grpc.Server | None = None
        self.flight: ForwardingFlightServer | None = None

    def _error(self, message: str) -> None:
        self.log("error", message)

    def start_storage(self, interrupted: Callable[[], bool]) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.options.on_storage is not None:
            self.options.on_storage(self.data_dir)
        if not self.options.prometheus:
            self.log("info", "storage: in memory only (no Prometheus; the PromQL API answers 503)")
            return
        self.prometheus = PrometheusChild(self.options.prometheus, self.data_dir,
                                          log_level=self.flags.log_level)
        self.prometheus.start(SIGNALS, interrupted)
        self.forward = Forwarder(self.prometheus.write_url)
        self.log("info", f"storage: prometheus pid {self.prometheus.pid} ready at {self.prometheus.url} "
                         f"(cmd: {' '.join(self.prometheus.command())})")

    def start_http(self) -> None:
        routes = {path: functools.partial(fn, self) for path, fn in self.options.routes.items()}
        handler = make_handler(self.prometheus.url if self.prometheus else None, routes, self.log)
        try:
            self.http = http.server.ThreadingHTTPServer((self.options.bind, self.flags.http_port), handler)
        except OSError as exc:
            self._error(f"HTTP {self.options.bind}:{self.flags.http_port}: {exc}; running without HTTP")
            return
        threading.Thread(target=self.http.serve_forever, name="http", daemon=True).start()

    def start_otlp(self) -> None:
        self.otlp = OtlpService(self.forward, on_error=self._error, strict=False)
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp"))
        svc_grpc.add_MetricsServiceServicer_to_server(self.otlp, server)
        try:
            server.add_insecure_port(self.flags.address)
        except RuntimeError as exc:
            self._error(f"OTLP {self.flags.address}: {exc}; running without OTLP")
            return
        server.start()
        self.otlp_server = server

    def start_flight(self) -> None:
        if self.flags.arrow_port == 0:
            self.log("info", "Flight off (--arrow-port 0)")
            return
        location = f"grpc+tcp://{self.options.bind}:{self.flags.arrow_port}"
        try:
            self.flight = ForwardingFlightServer(location, self.forward, on_error=self._error)
        except (OSError, pa.ArrowException) as exc:
            self._error(f"Flight {location}: {exc}; running without Flight")
            return
        self.log("info", f"Flight {self.flags.arrow_port}")

    def stats(self) -> dict[str, Any]:
        """Counts of what arrived (for doubles' diagnostics routes)."""
        flight = self.flight.stats() if self.flight else {"flight_rows": 0, "flight_series": 0,
                                                          "flight_violations": [], "flight_invisible": 0}
        return {**flight, **self.otlp.stats()}

    def stop(self) -> None:
        """Reverse start order; each step bounded, so a hung client cannot keep the process alive."""
        flight, self.flight = self.flight, None
        if flight is not None:  # shutdown() waits for running DoPuts: bounded by a join timeout
            stopper = threading.Thread(target=flight.shutdown, name="flight-shutdown", daemon=True)
            stopper.start()
            stopper.join(FLIGHT_SHUTDOWN_S)
        otlp, self.otlp_server = self.otlp_server, None
        if otlp is not None:
            otlp.stop(grace=2.0).wait(5.0)
        web, self.http = self.http, None
        if web is not None:
            web.shutdown()
            web.server_close()
        prometheus, self.prometheus = self.prometheus, None
        if prometheus is not None:
            code = prometheus.stop()
            self.log("info", f"storage: prometheus exited with code {code}")


def _pending_signal() -> bool:
    return bool(signal.sigpending() & set(SIGNALS))


def run(argv: list[str], options: Options | Callable[[], Options] = options_from_env, *,
        prog: str = "mytsdb-standin") -> int:
    """The whole process: parse, start in order, wait for SIGTERM/SIGINT, stop. Returns the exit code.

    A bad flag or option: ``<prog>: <why>`` on stderr, exit 1 (as MyTSDB).
    """
    try:
        flags = parse_flags(argv)
        opts = options if isinstance(options, Options) else options()
    except FlagError as exc:
        print(f"{prog}: {exc}", file=sys.stderr, flush=True)
        return 1
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)  # before any thread exists: all inherit it
    standin = Standin(flags, opts)
    try:
        standin.start_storage(_pending_signal)
        standin.start_http()
        standin.start_otlp()
        standin.log("info", f"HTTP {flags.http_port}, OTLP {flags.address}")
        got = signal.sigtimedwait(SIGNALS, opts.flight_delay) if opts.flight_delay else None
        if got is None:
            standin.start_flight()
            signum = signal.sigwait(SIGNALS)
        else:
            signum = got.si_signo
        standin.log("info", f"{signal.Signals(signum).name}: stopping")
        if opts.exit_delay:
            time.sleep(opts.exit_delay)  # MyTSDB's fixed pause before exiting, not synchronisation
    except (StandinError, OSError) as exc:  # e.g. Prometheus missing, data dir not writable
        standin.log("error", str(exc))
        standin.stop()
        return 1
    standin.stop()
    standin.log("info", "clean exit")
    return 0
