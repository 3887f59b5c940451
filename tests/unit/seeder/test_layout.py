"""Batch layouts: the same data and digest in every layout; the Flight sink's layout and streams; the
closing line says what each sink received and which slice went nowhere."""

from __future__ import annotations

import hashlib
import io
import re
from collections import defaultdict

import numpy as np
import pyarrow as pa
import pytest

from seeder import catalog
from seeder.contract_server import GRPC_MAX_MESSAGE, ContractFlightServer
from seeder.generate import Layout, iter_batches
from seeder.manifest import compute_digest
from seeder.progress import _si
from seeder.run import choose_layout, run
from seeder.sinks.flight import MYTSDB_LAYOUT, FlightSink
from seeder.sinks.null import NullSink
from seeder.spec import build_spec
from tests.unit.support.seeder import END, manifest, series_of, table, tiny

LAYOUTS = [None, MYTSDB_LAYOUT, Layout(run=7), Layout(run=50, series=3), Layout(run=0, series=1),
           Layout(run=0, batch_bytes=200_000)]


def _digest(spec, layout) -> str:  # type: ignore[no-untyped-def]
    h = hashlib.sha256()
    for s in ("main", "otlp"):
        for _ in iter_batches(spec, s, hasher=h, layout=layout):
            pass
    return h.hexdigest()


@pytest.mark.parametrize("jitter", [False, True])
def test_the_digest_does_not_depend_on_the_layout(jitter: bool) -> None:
    spec = tiny(jitter=jitter)
    digests = {_digest(spec, layout) for layout in LAYOUTS}
    assert len(digests) == 1
    assert "sha256:" + digests.pop() == compute_digest(spec)


@pytest.mark.parametrize("layout", [MYTSDB_LAYOUT, Layout(run=50, series=3),
                                    Layout(run=0, batch_bytes=200_000)], ids=str)
def test_every_layout_yields_the_model_data_with_series_runs_in_time_order(layout: Layout) -> None:
    spec = tiny()
    by_metric: dict[str, list[pa.RecordBatch]] = defaultdict(list)
    keys: dict[tuple[str, int], set] = {}
    done: set[tuple[str, int]] = set()
    last: dict[tuple, int] = {}
    for b in iter_batches(spec, layout=layout):
        by_metric[b.metric].append(b.batch)
        assert pa.ipc.get_record_batch_size(b.batch) < layout.batch_bytes + 64 * 1024 < GRPC_MAX_MESSAGE
        names = b.batch.schema.names[2:]
        rows = list(zip(*[b.batch.column(n).to_pylist() for n in names], strict=True))
        series = set(rows)
        assert len(series) == b.series and (layout.series == 0 or b.series <= layout.series)
        key = (b.metric, b.run_key)
        assert key not in done, "a run key ends with its final batch"
        assert keys.setdefault(key, series) == series, "one run key, one set of series"
        if b.final:
            done.add(key)
        ts = b.batch.column(0).to_numpy()
        starts = [0] + [i for i in range(1, len(rows)) if rows[i] != rows[i - 1]]
        assert len(starts) == len(series), "series rows are contiguous"
        for s0, s1 in zip(starts, [*starts[1:], len(rows)], strict=True):
            assert (np.diff(ts[s0:s1]) > 0).all()
            assert layout.run == 0 or s1 - s0 <= layout.run
            k = (b.metric, rows[s0])
            assert ts[s0] > last.get(k, -1), "a series continues only with later times"
            last[k] = int(ts[s1 - 1])
    assert set(keys) == done, "every run key ends with a final batch"
    for metric in catalog.METRICS:  # different run keys of a metric share no series
        sets = [v for (m, _), v in keys.items() if m == metric]
        assert sum(map(len, sets)) == len(set().union(*sets))
        got, want = series_of(pa.Table.from_batches(by_metric[metric])), series_of(table(spec, metric))
        assert got.keys() == want.keys()
        for k, (ts, vals) in want.items():
            assert np.array_equal(got[k][0], ts) and np.array_equal(got[k][1], vals)


def test_the_mytsdb_layout_writes_each_seed_20m_series_in_one_run_under_the_grpc_limit() -> None:
    metrics = ("node_cpu_seconds_total", "container_memory_working_set_bytes",
               "http_request_duration_seconds_bucket")
    spec = build_spec("seed-20m", end_time=END, metrics=metrics)
    for b in iter_batches(spec, layout=MYTSDB_LAYOUT):
        assert b.final and b.series == 1 and b.batch.num_rows == spec.samples_per_series
        assert pa.ipc.get_record_batch_size(b.batch) < MYTSDB_LAYOUT.batch_bytes < GRPC_MAX_MESSAGE


def test_the_runner_uses_the_flight_sinks_layout() -> None:
    assert choose_layout([NullSink()]) is None
    assert choose_layout([NullSink(), FlightSink("grpc+tcp://127.0.0.1:1")]) == MYTSDB_LAYOUT
    own = Layout(run=7)
    assert choose_layout([FlightSink("grpc+tcp://127.0.0.1:1", layout=own)]) == own


@pytest.mark.parametrize("layout", [None, Layout(run=120, series=3), MYTSDB_LAYOUT], ids=str)
def test_flight_spreads_batches_over_streams_and_keeps_each_series_in_order(layout: Layout | None) -> None:
    metrics = ("node_cpu_seconds_total", "http_request_duration_seconds_bucket", "process_open_fds")
    spec = build_spec("tiny", end_time=END, metrics=metrics)
    with ContractFlightServer() as server:
        run(spec, [FlightSink(server.location, streams=3, layout=layout)], progress=False)
        assert server.invisible == 0 and server.violations == []
        for metric in metrics:
            got, want = server.series(metric), series_of(table(spec, metric))
            assert {k[1] for k in got} == set(want)
            for (_, labels), (ts, vals) in got.items():
                assert np.array_equal(ts, want[labels][0]) and np.array_equal(vals, want[labels][1])
        assert server.rows == sum(v["slices"]["main"] for v in manifest(spec).metrics.values()) \
            * spec.samples_per_series


def _closing(sinks) -> str:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    run(tiny(), sinks, stream=out, tty=False)
    return out.getvalue().strip().splitlines()[-1]


def test_closing_line_names_what_flight_received_and_the_slice_that_went_nowhere() -> None:
    m = manifest(tiny())
    main = sum(v["slices"]["main"] for v in m.metrics.values()) * tiny().samples_per_series
    otlp = m.otlp["samples"]
    assert main > 0 and otlp > 0  # the old line printed main + otlp as "into" the Flight sink
    with ContractFlightServer(mode="null") as server:
        line = _closing([FlightSink(server.location)])
        assert server.rows == main
    assert re.fullmatch(
        rf"seed: done in [\d.]+s: flight {re.escape(server.location)} received {_si(main)} samples "
        rf"\(main slice, [\d.]+[kMG]? samples/s\); otlp slice \({_si(otlp)} samples\) went to no sink "
        r"\(generated for the digest only\)", line), line
    assert _si(main + otlp) not in line


def test_closing_line_with_every_slice_delivered_names_each_sink() -> None:
    m = manifest(tiny())
    main = sum(v["slices"]["main"] for v in m.metrics.values()) * tiny().samples_per_series
    line = _closing([NullSink(slices=("main",)), NullSink(slices=("otlp",))])
    assert f"null received {_si(main)} samples (main slice" in line
    assert f"null received {_si(m.otlp['samples'])} samples (otlp slice" in line
    assert "no sink" not in line
    line = _closing([NullSink()])
    assert f"null received {_si(main + m.otlp['samples'])} samples (main + otlp slices" in line


def test_the_cli_default_streams_are_the_sinks() -> None:
    from seeder import cli
    from seeder.sinks import flight

    assert cli.DEFAULT_FLIGHT_STREAMS == flight.DEFAULT_STREAMS == FlightSink("grpc://h:1").streams
