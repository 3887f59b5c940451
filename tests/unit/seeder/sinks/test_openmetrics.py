"""OpenMetrics sink: valid text, per-window split, and a real promtool backfill read back exactly."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pyarrow as pa
import pytest

from fixtures.common.errors import PrerequisiteMissing, StackStartError
from fixtures.stacks.prometheus_proc import PrometheusProcess, backfill_openmetrics
from seeder.generate import MetricBatch
from seeder.sinks.openmetrics import DEFAULT_BLOCK_WINDOW_MS, OpenMetricsSink, family_of
from tests.unit.support.sinks import (
    Model,
    assert_model_equal,
    handmade_batches,
    metric_names,
    model_of,
    query_back,
    time_range,
    tiny_batches,
    tiny_model,
    tiny_spec,
)

needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None or shutil.which("promtool") is None,
    reason="prometheus/promtool not on PATH (apt-get install prometheus)")
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+) (-?\d+(?:\.\d{3})?)$')


def write_all(sink: OpenMetricsSink, batches: list[MetricBatch]) -> list[Path]:
    sink.open()
    for mb in batches:
        sink.write(mb)
    sink.close()
    return sink.paths


@pytest.mark.parametrize(("metric", "kind", "family", "om_type"), [
    ("http_requests_total", "counter", "http_requests", "counter"),
    ("odd_counter", "counter", "odd_counter", "unknown"),
    ("x_seconds_bucket", "histogram_bucket", "x_seconds", "histogram"),
    ("x_seconds_sum", "histogram_sum", "x_seconds", "histogram"),
    ("x_seconds_count", "histogram_count", "x_seconds", "histogram"),
    ("node_memory_MemTotal_bytes", "gauge", "node_memory_MemTotal_bytes", "gauge"),
    ("_total", "counter", "_total", "unknown"),
])
def test_family_follows_openmetrics_naming(metric: str, kind: str, family: str, om_type: str) -> None:
    assert family_of(metric, kind) == (family, om_type)


def test_text_is_openmetrics_and_values_round_trip(tmp_path: Path) -> None:
    values = [0.1, 1e-05, 5e-324, 1.5e300, -0.0, 1 / 3, float("nan"), float("inf"), float("-inf"), 2.0]
    times = [1_793_491_200_000 + i * 1_001 for i in range(len(values))]
    rb = pa.RecordBatch.from_pydict({"timestamp": pa.array(times, pa.int64()), "value": values,
                                     "a": ["x"] * len(values)})
    (path,) = write_all(OpenMetricsSink(tmp_path / "out.om"), [MetricBatch("g", rb, 1, "gauge")])
    lines = path.read_text().splitlines()
    assert lines[0] == "# TYPE g gauge" and lines[-1] == "# EOF"
    parsed = [SAMPLE.match(line) for line in lines[1:-1]]
    assert all(parsed), [line for line, m in zip(lines[1:-1], parsed, strict=True) if not m]
    got_v = [float(m.group(3)) for m in parsed if m]
    got_t = [round(float(m.group(4)) * 1000) for m in parsed if m]
    assert got_t == times
    for got, want in zip(got_v, values, strict=True):
        same_sign = math.copysign(1, got) == math.copysign(1, want)
        assert (math.isnan(got) and math.isnan(want)) or (got == want and same_sign)
    assert {m.group(3) for m in parsed if m} >= {"NaN", "+Inf", "-Inf"}


def test_split_puts_each_sample_in_its_aligned_window(tmp_path: Path) -> None:
    batches = handmade_batches(points=300)
    paths = write_all(OpenMetricsSink(tmp_path / "om", block_window_ms=DEFAULT_BLOCK_WINDOW_MS), batches)
    lo, hi = time_range(batches)
    assert len(paths) == hi // DEFAULT_BLOCK_WINDOW_MS - lo // DEFAULT_BLOCK_WINDOW_MS + 1
    total = 0
    for path in paths:
        window_ms = int(path.stem.split("-")[1]) * 1000
        assert window_ms % DEFAULT_BLOCK_WINDOW_MS == 0
        text = path.read_text()
        assert text.endswith("# EOF\n") and not list(tmp_path.glob("om/*.partial"))
        stamps = [round(float(line.rsplit(" ", 1)[1]) * 1000) for line in text.splitlines() if line[0] != "#"]
        assert all(window_ms <= t < window_ms + DEFAULT_BLOCK_WINDOW_MS for t in stamps)
        total += len(stamps)
    assert total == sum(mb.batch.num_rows for mb in batches)


def test_abort_leaves_no_file(tmp_path: Path) -> None:
    sink = OpenMetricsSink(tmp_path / "om", block_window_ms=DEFAULT_BLOCK_WINDOW_MS)
    sink.open()
    sink.write(handmade_batches(points=20)[0])
    assert list((tmp_path / "om").glob("*.partial"))
    sink.abort()
    assert list((tmp_path / "om").iterdir()) == []


def test_abort_after_close_removes_the_finished_files(tmp_path: Path) -> None:
    sink = OpenMetricsSink(tmp_path / "one.om")
    assert write_all(sink, handmade_batches(points=5)) == [tmp_path / "one.om"]
    sink.abort()  # another sink failed later in the same run
    assert list(tmp_path.iterdir()) == []


def test_bad_window_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="block window must be > 0"):
        OpenMetricsSink(tmp_path, block_window_ms=0)


def test_missing_promtool_is_a_prerequisite(tmp_path: Path) -> None:
    with pytest.raises(PrerequisiteMissing, match="promtool"):
        backfill_openmetrics([], tmp_path, promtool=tmp_path / "no-promtool")


@needs_prometheus
def test_promtool_failure_shows_its_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.om"
    bad.write_text("metric{ 1 2\n# EOF\n")
    with pytest.raises(StackStartError, match=r"(?s)promtool backfill of .*bad\.om failed.*exit 1"):
        backfill_openmetrics([bad], tmp_path / "data")


def _round_trip(tmp_path: Path, batches: list[MetricBatch], window: int | None, want: Model) -> None:
    sink = OpenMetricsSink(tmp_path / ("om" if window else "all.om"), block_window_ms=window)
    paths = write_all(sink, batches)
    backfill_openmetrics(paths, tmp_path / "data")
    lo, hi = time_range(batches)
    with PrometheusProcess(data_dir=tmp_path / "data") as prom:
        assert metric_names(prom.url, lo, hi) == {name for name, _ in want}
        got = query_back(prom.url, {mb.metric for mb in batches}, lo, hi)
    assert_model_equal(got, want)


@needs_prometheus
@pytest.mark.parametrize("window", [None, DEFAULT_BLOCK_WINDOW_MS], ids=["one-file", "per-window"])
def test_backfill_into_prometheus_equals_model(tmp_path: Path, window: int | None) -> None:
    batches = handmade_batches(points=300)
    _round_trip(tmp_path, batches, window, model_of(batches))


@needs_prometheus
def test_tiny_preset_backfill_equals_model(tmp_path: Path) -> None:
    spec = tiny_spec()
    sink = OpenMetricsSink(tmp_path / "om", block_window_ms=DEFAULT_BLOCK_WINDOW_MS)
    want = tiny_model(spec, sink.slices)
    _round_trip(tmp_path, tiny_batches(spec, sink.slices), DEFAULT_BLOCK_WINDOW_MS, want)
