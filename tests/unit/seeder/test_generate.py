"""Generation: Arrow layout per docs/architecture.md, streaming equals the one-block model, digest."""

from __future__ import annotations

import hashlib
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from seeder import catalog
from seeder.generate import iter_batches, model_table
from seeder.manifest import compute_digest
from seeder.spec import build_spec
from tests.unit.support.seeder import END, batches, manifest, series_of, table, tiny


def test_digest_is_equal_across_runs_and_differs_with_seed_and_end_time() -> None:
    d1, d2 = compute_digest(tiny()), compute_digest(build_spec("tiny", end_time=END))
    assert d1 == d2 and d1.startswith("sha256:")
    assert compute_digest(tiny(seed=43)) != d1
    assert compute_digest(build_spec("tiny", end_time="2026-11-01T00:01:00Z")) != d1


def test_same_spec_gives_byte_identical_batches() -> None:
    a = [b.batch for b in iter_batches(tiny())]
    b = [b.batch for b in iter_batches(build_spec("tiny", end_time=END))]
    assert len(a) == len(b) and all(x.equals(y) for x, y in zip(a, b, strict=True))


def test_schema_is_int64_ms_float64_then_sorted_utf8_labels() -> None:
    for mb in batches(tiny()):
        s = mb.batch.schema
        assert s.field(0).name == "timestamp" and s.field(0).type == pa.int64()
        assert s.field(1).name == "value" and s.field(1).type == pa.float64()
        names = s.names[2:]
        assert names == sorted(names) == list(catalog.METRICS[mb.metric].labels)
        assert "__name__" not in names and all(f.type == pa.utf8() for f in list(s)[2:])
        assert mb.kind == catalog.METRICS[mb.metric].kind


def test_batches_of_a_metric_are_consecutive_and_series_contiguous_and_increasing() -> None:
    seen: list[str] = []
    last_ts: dict[tuple, int] = {}
    for mb in batches(tiny()):
        if not seen or seen[-1] != mb.metric:
            assert mb.metric not in seen, f"{mb.metric} yielded in two runs"
            seen.append(mb.metric)
        rb = mb.batch
        keys = list(zip(*[rb.column(n).to_pylist() for n in rb.schema.names[2:]], strict=True))
        ts = rb.column(0).to_numpy()
        runs = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
        assert len(runs) == len(set(keys)) == mb.series, "series rows must be contiguous"
        for start, end in zip(runs, [*runs[1:], len(keys)], strict=True):
            assert (np.diff(ts[start:end]) > 0).all()
            key = (mb.metric, keys[start])
            assert ts[start] > last_ts.get(key, -1), "a series continues only with later times"
            last_ts[key] = int(ts[end - 1])
    assert seen == [m.name for m in catalog.CATALOG]


def test_batches_stay_well_under_the_grpc_limit() -> None:
    spec = build_spec("seed-20m", end_time=END, metrics=("http_request_duration_seconds_bucket",))
    first = [b for _, b in zip(range(5), iter_batches(spec), strict=False)]
    sizes = [pa.ipc.get_record_batch_size(b.batch) for b in first]
    sizes += [pa.ipc.get_record_batch_size(b.batch) for b in batches(tiny())]
    assert max(sizes) < 3 * 2**20


@pytest.mark.parametrize("metric", [m.name for m in catalog.CATALOG])
def test_streamed_batches_equal_the_single_block_model(metric: str) -> None:
    streamed = pa.Table.from_batches([b.batch for b in batches(tiny()) if b.metric == metric])
    model = table(tiny(), metric)
    assert streamed.num_rows == model.num_rows == manifest(tiny()).metrics[metric]["slices"]["main"] \
        * tiny().samples_per_series
    got, want = series_of(streamed), series_of(model)
    assert got.keys() == want.keys()
    for k, (ts, vals) in want.items():
        assert np.array_equal(got[k][0], ts) and np.array_equal(got[k][1], vals)


def test_timestamps_cover_the_window_on_the_interval_grid() -> None:
    spec = tiny()
    tab = table(spec, "process_open_fds")
    ts = np.unique(tab.column("timestamp").to_numpy())
    assert ts[0] == spec.start_ms and ts[-1] == spec.end_ms and len(ts) == spec.samples_per_series
    assert (np.diff(ts) == spec.interval_ms).all()


def test_jitter_unaligns_timestamps_but_keeps_them_increasing_and_near_the_grid() -> None:
    spec = tiny(jitter=True)
    tab = model_table(spec, "container_cpu_usage_seconds_total")
    plain = table(tiny(), "container_cpu_usage_seconds_total")
    assert not tab.column("timestamp").equals(plain.column("timestamp"))
    assert tab.column("value").equals(plain.column("value")), "jitter moves times, not values"
    for ts, _ in series_of(tab).values():
        assert (np.diff(ts) > 0).all()
        off = (ts - spec.start_ms) - np.arange(len(ts)) * spec.interval_ms
        assert (off >= 0).all() and (off < spec.interval_ms / 2).all() and len(np.unique(off)) > 1


def test_otlp_slice_has_only_its_cluster_and_last_hours() -> None:
    spec = tiny()
    bs = batches(spec, "otlp")
    assert {b.metric for b in bs} == set(catalog.METRICS)
    for b in bs:
        assert set(b.batch.column("cluster").to_pylist()) == {spec.otlp_cluster}
        ts = b.batch.column(0).to_numpy()
        assert ts.min() >= spec.end_ms - spec.otlp_hours * 3_600_000 and ts.max() == spec.end_ms


def test_metrics_subset_yields_only_those() -> None:
    spec = build_spec("tiny", end_time=END, metrics=("process_open_fds", "node_memory_MemTotal_bytes"))
    assert Counter(b.metric for b in iter_batches(spec)).keys() == {"process_open_fds",
                                                                     "node_memory_MemTotal_bytes"}


def test_hasher_sees_data_of_every_batch() -> None:
    h1, h2 = hashlib.sha256(), hashlib.sha256()
    list(iter_batches(tiny(), hasher=h1))
    list(iter_batches(tiny(), "otlp", hasher=h2))
    assert h1.hexdigest() != h2.hexdigest()
