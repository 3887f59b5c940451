"""Seed manifest: computed from the spec alone, equal to what generation produces, JSON round trip."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from seeder import catalog
from seeder.manifest import SeedManifest, build_manifest, compute_digest
from seeder.run import run
from seeder.sinks.null import NullSink
from seeder.spec import SeedSpec
from tests.unit.support.seeder import END_MS, batches, manifest, tiny


@pytest.mark.parametrize("slice_name", ["main", "otlp"])
def test_counts_and_label_values_equal_the_generated_data(slice_name: str) -> None:
    m = manifest(tiny())
    rows: dict[str, int] = defaultdict(int)
    series: dict[str, set] = defaultdict(set)
    values: dict[str, set] = defaultdict(set)
    for b in batches(tiny(), slice_name):
        rows[b.metric] += b.batch.num_rows
        names = b.batch.schema.names[2:]
        cols = [b.batch.column(n).to_pylist() for n in names]
        for n, col in zip(names, cols, strict=True):
            values[n].update(col)
        series[b.metric].update(zip(*cols, strict=True))
    times = tiny().samples_per_series if slice_name == "main" else tiny().otlp_samples_per_series
    for name, info in m.metrics.items():
        assert info["slices"][slice_name] == len(series[name])
        assert rows[name] == len(series[name]) * times
        assert info["labels"] == list(catalog.METRICS[name].labels)
    want = m.label_values if slice_name == "main" else m.otlp["label_values"]
    assert {k: sorted(v) for k, v in values.items()} == want
    assert m.samples_total == sum(v["samples"] for v in m.metrics.values()) == tiny().samples_total()


def test_manifest_fields_and_time_range() -> None:
    m = manifest(tiny())
    spec = tiny()
    assert (m.format, m.seed, m.end_ms, m.interval_ms) == (1, 42, END_MS, 30_000)
    assert m.start_ms == END_MS - (spec.samples_per_series - 1) * 30_000
    assert SeedSpec.from_dict(m.spec) == spec == m.seed_spec()
    assert m.otlp["cluster"] == spec.otlp_cluster and m.otlp["end_ms"] == END_MS
    assert m.otlp["label_values"]["cluster"] == [spec.otlp_cluster]
    assert spec.otlp_cluster not in m.label_values["cluster"]
    assert all(len(m.label_values[d]) >= 1 for d in catalog.DIMENSIONS)


def test_query_time_and_range_window_lie_inside_the_window_on_the_grid() -> None:
    m = manifest(tiny())
    t = m.query_time()
    assert m.start_ms / 1000 < t <= m.end_ms / 1000 and (t * 1000) % m.interval_ms == 0
    start, end = m.range_window()
    assert m.start_ms / 1000 <= start < end <= m.end_ms / 1000


def test_save_load_round_trip(tmp_path: Path) -> None:
    m = manifest(tiny())
    m.save(tmp_path / "m.json")
    assert SeedManifest.load(tmp_path / "m.json") == m
    assert next(iter(m.to_dict())) == "format"


def test_run_fills_digest_sinks_and_slices_and_the_digest_needs_no_sending(tmp_path: Path) -> None:
    out = run(tiny(), [NullSink(slices=("main",))], manifest_path=tmp_path / "m.json", progress=False)
    assert out.digest == compute_digest(tiny())
    assert out.sinks == {"null": "null"} and out.slices_by_sink == {"null": ["main"]}
    saved = SeedManifest.load(tmp_path / "m.json")
    assert saved.digest == out.digest and saved.metrics == build_manifest(tiny()).metrics


def test_resets_name_real_series() -> None:
    m = manifest(tiny())
    assert m.resets
    for r in m.resets:
        assert catalog.METRICS[r["metric"]].is_counter
        assert set(r["labels"]) == set(catalog.METRICS[r["metric"]].labels)
        assert m.start_ms < r["t_ms"] <= m.end_ms


def test_no_otlp_slice_when_otlp_hours_is_zero() -> None:
    from seeder.spec import build_spec

    m = build_manifest(build_spec("tiny", end_time="2026-11-01T00:00:00Z", otlp_hours=0.0))
    assert m.otlp is None and all(v["slices"] == {"main": v["series"]} for v in m.metrics.values())
