"""Test support for the sink tests: contract-shaped batches, the model view, and read-back helpers.

A *model* is ``{(metric, ((label, value), ...)): [(t_ms, value), ...]}`` with labels sorted. Label
values are compared verbatim (``le="0.005"`` must come back as that text), except for OTLP where
``le_float=True`` compares ``le`` as ``repr(float(le))``: OTLP carries bounds as doubles.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pyarrow as pa
import requests

from seeder.generate import MetricBatch, iter_batches, model_table
from seeder.spec import SeedSpec, build_spec

Model = dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[int, float]]]

#: a fixed end time (2026-11-01T00:00:00Z), never "now"
END_MS = 1_793_491_200_000
STEP_MS = 60_000
DIMS = {"cluster": "c-0", "namespace": "ns-0", "job": "app-0", "region": "r-0"}
BOUNDS = ["0.005", "0.1", "1", "+Inf"]


def _batch(metric: str, kind: str, rows: list[tuple[int, float, dict[str, str]]]) -> MetricBatch:
    names = sorted({k for _, _, labels in rows for k in labels})
    cols: dict[str, pa.Array] = {
        "timestamp": pa.array([r[0] for r in rows], pa.int64()),
        "value": pa.array([r[1] for r in rows], pa.float64()),
    }
    for name in names:
        cols[name] = pa.array([r[2][name] for r in rows], pa.utf8())
    series = len({tuple(sorted(r[2].items())) for r in rows})
    return MetricBatch(metric, pa.RecordBatch.from_pydict(cols), series, kind)


def handmade_batches(points: int = 200, pods: int = 3) -> list[MetricBatch]:
    """A small dataset in the documented batch shape, spanning several 2 h block windows.

    Counters with one reset, a gauge with odd label values and ms-jittered timestamps, and a
    histogram trio; the counter continues over two batches (series split across batches).
    """
    start = END_MS - points * STEP_MS
    times = [start + i * STEP_MS for i in range(points)]
    pod_labels = [{**DIMS, "pod": f"pod-{p}", "code": "200", "method": "GET"} for p in range(pods)]
    counter = [(t, float(i * (p + 1) if i < points // 2 or p else i - points // 2), lab)
               for p, lab in enumerate(pod_labels) for i, t in enumerate(times)]
    half = len(counter) // 2 + 7  # cut inside a series: it continues in the next batch
    odd = {**DIMS, "pod": 'we"ird\\pod\nname', "phase": "Running"}
    gauge = [(t + (i % 7) * 13, 1e-05 * i + (0.1 if i % 3 else 1e300), odd) for i, t in enumerate(times)]
    buckets, sums, counts = [], [], []
    for p, lab in enumerate(pod_labels[:2]):
        base = {k: v for k, v in lab.items() if k not in ("code", "method")}
        for le_index, le in enumerate(BOUNDS):
            buckets += [(t, float(i * (le_index + 1) + p), {**base, "le": le}) for i, t in enumerate(times)]
        sums += [(t, 0.25 * i + p, base) for i, t in enumerate(times)]
        counts += [(t, float(i * len(BOUNDS) + p), base) for i, t in enumerate(times)]
    return [
        _batch("http_requests_total", "counter", counter[:half]),
        _batch("http_requests_total", "counter", counter[half:]),
        _batch("kube_pod_status_phase", "gauge", gauge),
        _batch("http_request_duration_seconds_bucket", "histogram_bucket", buckets),
        _batch("http_request_duration_seconds_sum", "histogram_sum", sums),
        _batch("http_request_duration_seconds_count", "histogram_count", counts),
    ]


def norm_labels(labels: Iterable[tuple[str, str]], le_float: bool = False) -> tuple[tuple[str, str], ...]:
    """Sorted labels; with ``le_float`` the ``le`` value as repr(float) (text vs double bounds)."""
    return tuple(sorted((k, repr(float(v)) if le_float and k == "le" else v) for k, v in labels))


def model_of(batches: Iterable[MetricBatch], le_float: bool = False) -> Model:
    """What the batches say: every sample keyed by metric and normalised label set."""
    model: Model = {}
    for mb in batches:
        cols = mb.batch.to_pydict()
        names = mb.batch.schema.names[2:]
        for i, (t, v) in enumerate(zip(cols["timestamp"], cols["value"], strict=True)):
            key = (mb.metric, norm_labels(((n, cols[n][i]) for n in names), le_float))
            model.setdefault(key, []).append((t, v))
    return model


def same_samples(got: list[tuple[int, float]], want: list[tuple[int, float]]) -> bool:
    """Exact equality, NaN equal to NaN."""
    return len(got) == len(want) and all(
        tg == tw and (vg == vw or (math.isnan(vg) and math.isnan(vw)))
        for (tg, vg), (tw, vw) in zip(got, want, strict=True))


def assert_model_equal(got: Model, want: Model) -> None:
    """Same series and, per series, exactly the same samples (first difference reported)."""
    missing, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
    assert not missing and not extra, f"series differ: missing {missing[:3]}, extra {extra[:3]}"
    for key, samples in want.items():
        assert same_samples(got[key], samples), f"{key}: got {got[key][:5]}..., want {samples[:5]}..."


def query_back(url: str, metrics: Iterable[str], start_ms: int, end_ms: int) -> Model:
    """Every raw sample of ``metrics`` in [start_ms, end_ms] from a Prometheus HTTP API."""
    window_s = (end_ms - start_ms) // 1000 + 1
    got: Model = {}
    for metric in sorted(set(metrics)):
        resp = requests.get(f"{url}/api/v1/query", timeout=30, params={
            "query": f'{{__name__="{metric}"}}[{window_s}s]', "time": f"{end_ms / 1000:.3f}"})
        body = resp.json()
        assert body.get("status") == "success", f"query {metric}: {body}"
        for series in body["data"]["result"]:
            labels = dict(series["metric"])
            name = labels.pop("__name__")
            got[(name, norm_labels(labels.items()))] = [
                (round(float(t) * 1000), float(v)) for t, v in series["values"]]
    return got


def metric_names(url: str, start_ms: int, end_ms: int) -> set[str]:
    """Every ``__name__`` a Prometheus holds in the window (catches renamed or extra series)."""
    resp = requests.get(f"{url}/api/v1/label/__name__/values", timeout=30,
                        params={"start": f"{start_ms / 1000:.3f}", "end": f"{end_ms / 1000:.3f}"})
    return set(resp.json()["data"])


def time_range(batches: Iterable[MetricBatch]) -> tuple[int, int]:
    """(min, max) timestamp over all batches."""
    lo, hi = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    for mb in batches:
        ts = mb.batch.column(0).to_numpy()
        lo, hi = min(lo, int(ts.min())), max(hi, int(ts.max()))
    return lo, hi


def tiny_spec() -> SeedSpec:
    """The ``tiny`` preset at the fixed end time and seed 42."""
    return build_spec("tiny", end_time=END_MS / 1000, seed=42)


def tiny_batches(spec: SeedSpec, slices: Iterable[str]) -> list[MetricBatch]:
    """The real generator's stream of the given slices (what the seeder hands the sinks)."""
    return [mb for slice_name in slices for mb in iter_batches(spec, slice_name)]


def tiny_model(spec: SeedSpec, slices: Iterable[str], le_float: bool = False) -> Model:
    """The expected data, from the generator's one-block ``model_table`` (independent batching).

    Also checks it against the spec's series counts, so an empty model cannot pass.
    """
    model: Model = {}
    series = 0
    for slice_name in slices:
        for metric, count in spec.series_by_metric(slice_name).items():
            table = model_table(spec, metric, slice_name)
            before = len(model)
            model.update(model_of([MetricBatch(metric, b, 0, "") for b in table.to_batches()], le_float))
            assert len(model) - before == count, f"{metric}/{slice_name}: {len(model) - before} series"
            series += count
    assert series > 0
    return model
