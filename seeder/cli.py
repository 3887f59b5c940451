"""Command line: ``python -m seeder`` / ``k8s-seed``. Exit 0 success, 1 runtime failure, 2 usage error.

Errors are one line on stderr (``k8s-seed: error: ...``). The OpenMetrics, remote-write and OTLP
sinks are imported only when asked for, so one missing module never breaks the rest.

Example::

    python -m seeder --preset tiny --end-time 2026-11-01T00:00:00Z --flight grpc+tcp://127.0.0.1:8815 \\
        --manifest /tmp/m.json --ready-file /tmp/seed_done
"""

from __future__ import annotations

import argparse
import importlib
import math
import signal
import socket
import sys
import time
import urllib.parse
from collections.abc import Sequence
from typing import NoReturn

import numpy as np

from seeder import catalog, interrupt
from seeder.errors import SeederError, SpecError
from seeder.generate import plan_metric
from seeder.manifest import build_manifest
from seeder.run import remove_ready_file
from seeder.sinks.base import Sink
from seeder.spec import DEFAULT_PRESET, PRESETS, TOPOLOGY_KNOBS, SeedSpec, build_spec
from seeder.topology import build_topology

PROG = "k8s-seed"
MAX_STREAMS = 64
#: = seeder.sinks.flight.DEFAULT_STREAMS (that module is imported only when --flight is given)
DEFAULT_FLIGHT_STREAMS = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"{PROG}: error: {message} (see --help)\n")
        raise SystemExit(2)


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be >= 1")
    return v


def _count(text: str) -> int:
    """A positive sample count: 20000000, 2e7, 20M, 500k."""
    t = text.strip()
    mult = {"k": 1e3, "m": 1e6, "g": 1e9}.get(t[-1:].lower(), 1.0)
    try:
        v = float(t[:-1] if mult != 1.0 else t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (e.g. 20000000, 2e7, 20M)") from None
    if not math.isfinite(v) or v < 1 or v != int(v):
        raise argparse.ArgumentTypeError(f"{text!r} must be a whole count >= 1")
    return int(v)


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _seconds(text: str) -> float:
    """A finite, positive duration (a NaN or negative timeout would wait forever or not at all)."""
    v = _number(text)
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"{text!r} must be a finite number of seconds > 0")
    return v


def _streams(text: str) -> int:
    v = _positive_int(text)
    if v > MAX_STREAMS:
        raise argparse.ArgumentTypeError(f"{text!r} must be <= {MAX_STREAMS}")
    return v


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} must be HOST:PORT")
    return host.strip("[]"), int(port)


def _flight_uri(text: str) -> str:
    if not text.startswith(("grpc+tcp://", "grpc://")):
        raise argparse.ArgumentTypeError(f"{text!r} must be grpc+tcp://HOST:PORT")
    _host_port(text.split("://", 1)[1])
    return text


def _http_url(text: str) -> str:
    """An http(s) URL with a host (and a valid port if one is given)."""
    u = urllib.parse.urlsplit(text)
    try:
        port_ok = u.port is None or 0 < u.port < 65536
    except ValueError:
        port_ok = False
    if u.scheme not in ("http", "https") or not u.hostname or not port_ok:
        raise argparse.ArgumentTypeError(f"{text!r} must be an http(s)://HOST[:PORT]/PATH URL")
    return text


def _otlp_endpoint(text: str) -> str:
    _host_port(text.split("://", 1)[-1].rstrip("/"))
    return text


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="Seed a deterministic Kubernetes-shaped dataset into MyTSDB "
                "(Arrow Flight, OTLP) and reference sinks (OpenMetrics, remote write).")
    g = p.add_argument_group("dataset")
    g.add_argument("--preset", choices=list(PRESETS), default=DEFAULT_PRESET,
                   help=f"Size preset (default {DEFAULT_PRESET})")
    g.add_argument("--days", type=_number, help="Length of the window in days")
    g.add_argument("--scrape-interval", type=_positive_int, metavar="SECONDS", help="Seconds between samples")
    for knob in TOPOLOGY_KNOBS:
        g.add_argument("--" + knob.replace("_", "-"), type=_positive_int, metavar="N",
                       help=knob.replace("_", " ").capitalize())
    g.add_argument("--metrics", metavar="NAME[,NAME]", action="append",
                   help="Only these metrics (comma-separated, repeatable)")
    g.add_argument("--target-samples", type=_count, metavar="N",
                   help="Solve the free topology knobs to land within 5%% of N samples")
    g.add_argument("--seed", type=int, help="Seed of every name and value (default 42)")
    g.add_argument("--end-time", metavar="T", help="Window end: Unix seconds or RFC3339 (default now), "
                   "floored to the scrape interval")
    g.add_argument("--jitter", action="store_true", help="Per-sample timestamp jitter (scrapes not aligned)")
    g.add_argument("--otlp-hours", type=_number, metavar="H", help="Hours of the OTLP slice (0 = none)")
    g.add_argument("--otlp-cluster", metavar="NAME", help="Cluster label value of the OTLP slice")
    s = p.add_argument_group("sinks (any combination)")
    s.add_argument("--flight", type=_flight_uri, metavar="URI", help="Arrow Flight DoPut, grpc+tcp://HOST:PORT")
    s.add_argument("--flight-streams", type=_streams, metavar="N",
                   help=f"Parallel Flight DoPut streams (default {DEFAULT_FLIGHT_STREAMS}, at most "
                        f"{MAX_STREAMS}; see docs/seeding-performance.md)")
    s.add_argument("--connect-timeout", type=_seconds, default=10.0, metavar="S",
                   help="Seconds the Flight sink waits for the server to answer (default 10)")
    s.add_argument("--openmetrics", metavar="PATH", help="OpenMetrics text for promtool (a file, or a "
                   "directory with --openmetrics-split)")
    s.add_argument("--openmetrics-split", action="store_true",
                   help="One OpenMetrics file per 2 h block window (parallel backfill)")
    s.add_argument("--remote-write", type=_http_url, metavar="URL", help="Prometheus remote-write v1 URL")
    s.add_argument("--otlp", type=_otlp_endpoint, metavar="HOST:PORT", help="OTLP/gRPC endpoint (OTLP slice)")
    s.add_argument("--null", action="store_true", help="Generate and discard (measuring)")
    r = p.add_argument_group("run")
    r.add_argument("--manifest", metavar="FILE", help="Write the seed manifest JSON here")
    r.add_argument("--ready-file", metavar="FILE", help="Create only after every sink confirmed success")
    r.add_argument("--wait-for", type=_host_port, action="append", default=[], metavar="HOST:PORT",
                   help="Wait until this TCP port accepts connections first (repeatable)")
    r.add_argument("--wait-timeout", type=_seconds, default=120.0, metavar="S",
                   help="Seconds --wait-for may take (default 120)")
    r.add_argument("--dry-run", action="store_true", help="Print the plan and send nothing")
    r.add_argument("--quiet", action="store_true", help="No progress output")
    return p


def spec_from_args(a: argparse.Namespace) -> SeedSpec:
    metrics = None
    if a.metrics is not None:
        metrics = tuple(m.strip() for item in a.metrics for m in item.split(",") if m.strip())
        if not metrics:  # an empty subset must not silently mean "every metric"
            raise SpecError("--metrics: no metric named (give NAME[,NAME])")
    knobs = {k: getattr(a, k) for k in ("days", "scrape_interval", *TOPOLOGY_KNOBS, "seed", "otlp_hours",
                                        "otlp_cluster")}
    return build_spec(a.preset, end_time=a.end_time, target_samples=a.target_samples, metrics=metrics,
                      jitter=a.jitter or None, **knobs)


def make_sinks(a: argparse.Namespace) -> list[Sink]:
    """Instantiate the requested sinks (the non-core ones imported lazily)."""
    sinks: list[Sink] = []
    if a.flight:
        from seeder.sinks.flight import FlightSink

        sinks.append(FlightSink(a.flight, streams=a.flight_streams or DEFAULT_FLIGHT_STREAMS,
                                connect_timeout=a.connect_timeout))
    if a.openmetrics:
        mod = _sink_module("openmetrics")
        window = mod.DEFAULT_BLOCK_WINDOW_MS if a.openmetrics_split else None
        sinks.append(mod.OpenMetricsSink(a.openmetrics, block_window_ms=window))
    if a.remote_write:
        sinks.append(_sink_module("remote_write").RemoteWriteSink(a.remote_write))
    if a.otlp:
        sinks.append(_sink_module("otlp").OtlpSink(a.otlp))
    if a.null:
        from seeder.sinks.null import NullSink

        sinks.append(NullSink())
    return sinks


def _sink_module(name: str):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(f"seeder.sinks.{name}")
    except ImportError as exc:
        raise SeederError(f"sink {name} is unavailable: {exc}") from None


def wait_for(targets: Sequence[tuple[str, int]], timeout: float) -> None:
    """Poll TCP connects until each target accepts, within one deadline; SeederError naming the last error."""
    deadline = time.monotonic() + timeout
    for host, port in targets:
        delay, last = 0.05, "no attempt"
        while True:
            left = deadline - time.monotonic()
            try:
                with socket.create_connection((host, port), timeout=max(0.1, min(2.0, left))):
                    break
            except OSError as exc:
                last = exc.strerror or str(exc)
            if deadline - time.monotonic() <= 0:
                raise SeederError(f"--wait-for {host}:{port}: not accepting TCP connections after "
                                  f"{timeout:g}s (last error: {last})")
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))  # backoff between probes
            interrupt.check()
            delay = min(1.0, delay * 2)


def print_plan(spec: SeedSpec, a: argparse.Namespace) -> None:
    """The dry-run plan: series, samples and estimated Arrow bytes per metric, and where it would go."""
    m = build_manifest(spec)
    topo = build_topology(spec, "main")
    iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(spec.end_ms / 1000))
    print(f"plan: preset {spec.preset}, seed {spec.seed}, {spec.days:g} days ending {iso}, every "
          f"{spec.scrape_interval}s ({spec.samples_per_series} samples/series)")
    print(f"topology: {spec.clusters} clusters, {spec.nodes} nodes, {spec.pods} pods x "
          f"{spec.containers_per_pod} containers; OTLP slice: "
          + (f"cluster {spec.otlp_cluster}, last {spec.otlp_hours:g} h" if m.otlp else "none"))
    total_bytes = 0
    print(f"{'metric':45} {'type':16} {'series':>8} {'samples':>12} {'est. bytes':>12}")
    for name, info in m.metrics.items():
        plan = plan_metric(spec, topo, catalog.METRICS[name])
        row = 16 + sum(4 + float(np.mean([len(v.encode()) for v in plan.dicts[k].to_pylist()]))
                       for k in plan.idx)
        est = int(row * info["samples"])
        total_bytes += est
        print(f"{name:45} {info['type']:16} {info['series']:>8} {info['samples']:>12} {est:>12}")
    print(f"total: {m.series_total} series, {m.samples_total} samples, ~{total_bytes / 1e9:.2f} GB as Arrow")
    names = [n for n, v in (("flight", a.flight), ("openmetrics", a.openmetrics),
                            ("remote-write", a.remote_write), ("otlp", a.otlp), ("null", a.null)) if v]
    print("sinks: " + (", ".join(names) if names else "none") + " (dry run: nothing sent)")
    if a.manifest:
        m.save(a.manifest)


def _remove_stale_ready_file(args: list[str]) -> None:
    """A ready file from an earlier run must not vouch for this one, even if this one is a usage error.

    argparse accepts unambiguous abbreviations (``--ready``, ``--ready-f=F``), so match those too.
    """
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if len(name) < len("--rea") or not "--ready-file".startswith(name):
            continue
        path = value if eq else (args[i + 1] if i + 1 < len(args) else "")
        if path:
            remove_ready_file(path)


def _check_usage(a: argparse.Namespace, spec: SeedSpec) -> None:
    """Sink combinations that cannot work: refused before anything is sent (also in a dry run)."""
    if a.openmetrics_split and not a.openmetrics:
        raise SpecError("--openmetrics-split needs --openmetrics")
    if a.otlp and spec.otlp_samples_per_series < 1:
        raise SpecError("--otlp: the OTLP slice is empty (--otlp-hours 0 or shorter than one scrape "
                        "interval); nothing would be exported")
    if not a.dry_run and not any((a.flight, a.openmetrics, a.remote_write, a.otlp, a.null)):
        raise SpecError("no sink: give --flight, --openmetrics, --remote-write, --otlp, --null "
                        "or --dry-run")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        _remove_stale_ready_file(args)
    except SeederError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 1
    try:
        a = build_parser().parse_args(args)
    except SystemExit as exc:  # usage error (2) or --help (0): returned like every other outcome
        return exc.code if isinstance(exc.code, int) else 2
    restore = None
    try:
        spec = spec_from_args(a)
        _check_usage(a, spec)
        if a.dry_run:
            print_plan(spec, a)
            return 0
        sinks = make_sinks(a)
        restore = interrupt.install()
        if a.wait_for:
            wait_for(a.wait_for, a.wait_timeout)
        from seeder.run import run

        run(spec, sinks, manifest_path=a.manifest, ready_file=a.ready_file, progress=not a.quiet)
    except SpecError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 2
    except SeederError as exc:
        sys.stderr.write(f"{PROG}: error: {exc}\n")
        return 1
    except (KeyboardInterrupt, interrupt.Interrupted) as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        word = "terminated" if signum == signal.SIGTERM else "interrupted"
        name = signal.Signals(signum).name
        sys.stderr.write(f"{PROG}: error: {word} ({name}); the seeding is incomplete\n")
        return 1
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        sys.stderr.write(f"{PROG}: error: unexpected {type(exc).__name__}: {first}\n")
        return 1
    finally:
        if restore is not None:
            restore()
    return 0
