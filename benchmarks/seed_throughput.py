"""Seeder throughput vs raw Flight transport, in one process and one run (a benchmark, not a test).

1. seed-20m end to end (generation + digest + FlightSink with its default layout and streams) into a
   null in-process contract server;
2. the same number of identical prebuilt batches of that layout, per metric in the same order,
   through the same FlightSink into the same kind of server: the transport alone.
Prints both rates, the process CPU time per sample of each (less sensitive to other load on a
shared machine), the peak memory, and as the last line ``ratio <seed rate / raw rate>``: with
``--repeat N`` each seeding is paired with the raw run right after it and the last line is the
median of the N paired ratios (the best one is printed on the line before; other load on a
shared machine moves single pairs by +-15%).
Targets on a 2-core machine: ratio >= 0.8, seed-20m <= 10 s, peak <= 1.5 GiB.

Usage: python benchmarks/seed_throughput.py [--preset seed-20m] [--streams N] [--repeat 1]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

from seeder.contract_server import ContractFlightServer
from seeder.generate import MetricBatch, iter_batches
from seeder.run import run
from seeder.sinks.flight import DEFAULT_STREAMS, MYTSDB_LAYOUT, FlightSink
from seeder.sinks.null import NullSink
from seeder.spec import PRESETS, SeedSpec, build_spec

END_TIME = "2026-11-01T00:00:00Z"


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def seed_once(spec: SeedSpec, streams: int) -> tuple[int, float, float, dict[str, int]]:
    """(samples received, wall s, CPU s, batches per metric) of one end-to-end seeding."""
    with ContractFlightServer(mode="null") as server:
        counter = NullSink(slices=("main",))  # remembers batches per metric for the raw run
        t0, c0 = time.perf_counter(), time.process_time()
        run(spec, [FlightSink(server.location, streams=streams), counter], progress=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if server.rows != counter.rows:
            raise SystemExit(f"server received {server.rows} rows, the seeder sent {counter.rows}")
        return server.rows, wall, cpu, counter.batches_by_metric


def raw_once(proto: MetricBatch, plan: dict[str, int], streams: int) -> tuple[int, float, float]:
    """(samples received, wall s, CPU s) of sending prebuilt batches with the seeding's stream layout."""
    with ContractFlightServer(mode="null") as server:
        sink = FlightSink(server.location, streams=streams)
        t0, c0 = time.perf_counter(), time.process_time()
        sink.open()
        for metric, n in plan.items():
            batch = MetricBatch(metric, proto.batch, proto.series, proto.kind)
            for _ in range(n):
                sink.write(batch)
        sink.close()
        return server.rows, time.perf_counter() - t0, time.process_time() - c0


def _at_least_one(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value!r}")
    return number


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--preset", default="seed-20m", choices=PRESETS,
                    help="seeder preset (default seed-20m: about 20.5M samples, up to 1.5 GiB of memory; "
                         "tiny for a quick look)")
    ap.add_argument("--streams", type=_at_least_one, default=DEFAULT_STREAMS,
                    help=f"Flight streams (default {DEFAULT_STREAMS}, the sink's)")
    ap.add_argument("--repeat", type=_at_least_one, default=1,
                    help="seed/raw pairs; the last line is their median ratio (default 1)")
    a = ap.parse_args()
    spec = build_spec(a.preset, end_time=END_TIME)
    proto = next(b for b in iter_batches(spec, layout=MYTSDB_LAYOUT)
                 if b.metric == "container_cpu_usage_seconds_total")
    ratios: list[float] = []
    walls: list[float] = []
    for i in range(max(1, a.repeat)):
        rows, wall, cpu, plan = seed_once(spec, a.streams)
        walls.append(wall)
        print(f"seed:  {a.preset} {rows} samples (+ OTLP slice generated for the digest) in {wall:.2f}s = "
              f"{rows / wall / 1e6:.2f}M samples/s over {a.streams} streams; "
              f"CPU {cpu / rows * 1e9:.0f} ns/sample")
        raw_rows, raw_wall, raw_cpu = raw_once(proto, plan, a.streams)
        print(f"raw:   {sum(plan.values())} identical prebuilt batches of {proto.batch.num_rows} rows "
              f"({proto.batch.nbytes // proto.batch.num_rows} B/row), {raw_rows} samples "
              f"in {raw_wall:.2f}s = "
              f"{raw_rows / raw_wall / 1e6:.2f}M samples/s; CPU {raw_cpu / raw_rows * 1e9:.0f} ns/sample")
        ratios.append((rows / wall) / (raw_rows / raw_wall))  # the seeding vs the raw run right after it
        print(f"pair {i + 1}: ratio {ratios[-1]:.3f}")
    peak = _peak_mib()
    print(f"peak memory: {peak:.0f} MiB (process max RSS, server included)")
    median = statistics.median(ratios)
    print(f"targets: seed {min(walls):.2f}s (median {statistics.median(walls):.2f}s) <= 10 s: "
          f"{'ok' if statistics.median(walls) <= 10 else 'MISSED'}; peak <= 1536 MiB: "
          f"{'ok' if peak <= 1536 else 'MISSED'}; best ratio {max(ratios):.3f}, median ratio "
          f"{median:.3f} (>= 0.8: {'ok' if median >= 0.8 else 'MISSED'})")
    print(f"ratio {median:.3f}")


if __name__ == "__main__":
    main()
