"""Seeder throughput vs raw Flight transport, in one process and one run (a benchmark, not a test).

1. seed-20m end to end (generation + FlightSink) into a null in-process contract Flight server;
2. the same number of identical prebuilt batches, per metric in the same order, through the same
   FlightSink into the same kind of server: the transport alone.
Prints both rates, the peak memory of the process, and as the last line ``ratio <seed/raw>``.
Targets on a 2-core machine: ratio >= 0.8, seed-20m <= 10 s, peak <= 1.5 GiB.

Usage: python benchmarks/seed_throughput.py [--preset seed-20m] [--streams 4]
"""

from __future__ import annotations

import argparse
import resource
import time

from seeder.contract_server import ContractFlightServer
from seeder.generate import MetricBatch, iter_batches
from seeder.run import run
from seeder.sinks.flight import FlightSink
from seeder.sinks.null import NullSink
from seeder.spec import build_spec

END_TIME = "2026-11-01T00:00:00Z"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="seed-20m")
    ap.add_argument("--streams", type=int, default=4)
    a = ap.parse_args()
    spec = build_spec(a.preset, end_time=END_TIME)

    with ContractFlightServer(mode="null") as server:
        counter = NullSink(slices=("main",))  # remembers batches per metric for the raw run
        t0 = time.perf_counter()
        manifest = run(spec, [FlightSink(server.location, streams=a.streams), counter], progress=False)
        seed_s = time.perf_counter() - t0
        seed_rows = server.rows
    if seed_rows != counter.rows:
        raise SystemExit(f"server received {seed_rows} rows, the seeder sent {counter.rows}")
    print(f"seed:  {a.preset} {seed_rows} samples ({manifest.samples_total} incl. OTLP slice generated) "
          f"in {seed_s:.2f}s = {seed_rows / seed_s / 1e6:.2f}M samples/s over {a.streams} streams")

    proto = next(b for b in iter_batches(spec) if b.metric == "container_cpu_usage_seconds_total")
    with ContractFlightServer(mode="null") as server:
        sink = FlightSink(server.location, streams=a.streams)
        t0 = time.perf_counter()
        sink.open()
        for metric, n in counter.batches_by_metric.items():
            batch = MetricBatch(metric, proto.batch, proto.series, proto.kind)
            for _ in range(n):
                sink.write(batch)
        sink.close()
        raw_s = time.perf_counter() - t0
        raw_rows = server.rows
    print(f"raw:   {sum(counter.batches_by_metric.values())} identical prebuilt batches of "
          f"{proto.batch.num_rows} rows ({proto.batch.nbytes // proto.batch.num_rows} B/row), "
          f"{raw_rows} samples "
          f"in {raw_s:.2f}s = {raw_rows / raw_s / 1e6:.2f}M samples/s")
    print(f"peak memory: {_peak_mib():.0f} MiB (process max RSS)")
    print(f"ratio {(seed_rows / seed_s) / (raw_rows / raw_s):.3f}")


if __name__ == "__main__":
    main()
