"""Value invariants of the dataset, each checked over the whole tiny dataset (both slices)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from seeder import catalog
from tests.unit.support.seeder import manifest, series_of, table, tiny, without

SLICES = ("main", "otlp")
COUNTERS = [m.name for m in catalog.CATALOG if m.is_counter]


def _resets(metric: str, slice_name: str) -> dict[tuple, int]:
    out = {}
    for r in manifest(tiny()).resets:
        if r["metric"] == metric and r["slice"] == slice_name:
            out[tuple(sorted(r["labels"].items()))] = r["t_ms"]
    return out


@pytest.mark.parametrize("slice_name", SLICES)
@pytest.mark.parametrize("metric", COUNTERS)
def test_counters_are_monotonic_except_at_the_recorded_resets(metric: str, slice_name: str) -> None:
    resets = _resets(metric, slice_name)
    for key, (ts, vals) in series_of(table(tiny(), metric, slice_name)).items():
        drops = ts[1:][np.diff(vals) < 0]
        if key in resets:
            assert drops.tolist() == [resets[key]], f"{metric}{dict(key)}: drops at {drops}, recorded reset"
        else:
            assert len(drops) == 0, f"{metric}{dict(key)}: unrecorded drop at {drops[:3]}"
        assert (vals >= 0).all()


def test_the_dataset_holds_deliberate_resets_and_each_is_a_real_drop() -> None:
    m = manifest(tiny())
    assert any(r["metric"] == "container_cpu_usage_seconds_total" for r in m.resets)
    assert any(r["metric"] == "http_requests_total" for r in m.resets)
    def pod_container(key: tuple) -> tuple:
        d = dict(key)
        return d["cluster"], d["pod"], d["container"]

    ksm = series_of(table(tiny(), "kube_pod_container_status_restarts_total"))
    restarts = {pod_container(k): v for k, v in ksm.items()}
    cpu = _resets("container_cpu_usage_seconds_total", "main")
    assert cpu
    for key, t_ms in cpu.items():  # a counter reset is a container restart kube-state-metrics counted
        ts, vals = restarts[pod_container(key)]
        assert vals[ts == t_ms][0] == vals[ts == t_ms - tiny().interval_ms][0] + 1


def _by_pod(metric: str, slice_name: str, drop: tuple[str, ...]) -> dict[tuple, dict[str, np.ndarray]]:
    out: dict[tuple, dict[str, np.ndarray]] = defaultdict(dict)
    for key, (_, vals) in series_of(table(tiny(), metric, slice_name)).items():
        extra = dict(key)
        out[without(key, *drop)]["|".join(extra[d] for d in drop)] = vals
    return out


@pytest.mark.parametrize("slice_name", SLICES)
def test_histogram_buckets_cumulative_in_le_count_equals_inf_sum_consistent(slice_name: str) -> None:
    def values(metric: str) -> dict[tuple, np.ndarray]:
        return {k: v for k, (_, v) in series_of(table(tiny(), metric, slice_name)).items()}

    buckets = _by_pod("http_request_duration_seconds_bucket", slice_name, ("le",))
    counts = values("http_request_duration_seconds_count")
    sums = values("http_request_duration_seconds_sum")
    assert buckets.keys() == counts.keys() == sums.keys()
    for pod, by_le in buckets.items():
        assert set(by_le) == set(catalog.LE_VALUES)
        stack = np.array([by_le[le] for le in catalog.LE_VALUES])
        assert (np.diff(stack, axis=0) >= 0).all(), "buckets must not decrease with le"
        assert np.array_equal(stack[-1], counts[pod])
        # every observation lies in its bucket: sum between the lower and upper bounds of the buckets
        per = np.diff(stack, axis=0, prepend=0)
        lower = np.array([0.0, *catalog.LE_BOUNDS[:-2]]) @ per[:-1] + catalog.LE_BOUNDS[-2] * per[-1]
        upper = np.array(catalog.LE_BOUNDS[:-1]) @ per[:-1] + catalog.LE_BOUNDS[-2] * 4 * per[-1]
        assert (sums[pod] >= lower - 1e-6).all() and (sums[pod] <= upper + 1e-6).all()
        assert (counts[pod] > 0).all()


@pytest.mark.parametrize("slice_name", SLICES)
def test_mem_available_never_exceeds_mem_total(slice_name: str) -> None:
    total = series_of(table(tiny(), "node_memory_MemTotal_bytes", slice_name))
    avail = series_of(table(tiny(), "node_memory_MemAvailable_bytes", slice_name))
    assert total.keys() == avail.keys() and total
    for k in total:
        assert (avail[k][1] <= total[k][1]).all() and (avail[k][1] > 0).all()
        assert len(np.unique(total[k][1])) == 1 and total[k][1][0] >= 8 * 2**30
        assert avail[k][1].std() > 0, "available memory should move"


@pytest.mark.parametrize("slice_name", SLICES)
def test_exactly_one_phase_is_one_per_pod_and_time(slice_name: str) -> None:
    by_pod = _by_pod("kube_pod_status_phase", slice_name, ("phase",))
    assert by_pod
    seen = set()
    for phases in by_pod.values():
        assert set(phases) == set(catalog.PHASES)
        stack = np.array([phases[p] for p in catalog.PHASES])
        assert set(np.unique(stack)) <= {0.0, 1.0} and (stack.sum(axis=0) == 1).all()
        seen |= {p for p in catalog.PHASES if phases[p].any()}
    assert "Running" in seen


def _rates(metric: str) -> list[np.ndarray]:
    out = []
    for ts, vals in series_of(table(tiny(), metric)).values():
        ok = np.diff(vals) >= 0
        out.append((np.diff(vals) / (np.diff(ts) / 1000.0))[ok])
    return out


def test_rates_are_plausible() -> None:
    cpu = np.concatenate(_rates("container_cpu_usage_seconds_total"))
    assert 0 < np.median(cpu) < 2 and cpu.max() < 8, "cores per container"
    rps = np.concatenate(_rates("http_request_duration_seconds_count"))
    assert 1 < np.median(rps) < 500
    net = np.concatenate(_rates("container_network_receive_bytes_total"))
    assert 1e3 < np.median(net) < 1e8
    # node-exporter: the modes of one CPU add up to about one second per second
    per_cpu: dict[tuple, float] = defaultdict(float)
    for key, (ts, vals) in series_of(table(tiny(), "node_cpu_seconds_total")).items():
        per_cpu[without(key, "mode")] += (vals[-1] - vals[0]) / ((ts[-1] - ts[0]) / 1000.0)
    assert all(0.8 < v < 1.2 for v in per_cpu.values())


def test_rates_follow_a_diurnal_shape_with_noise() -> None:
    spec = tiny()
    _, vals = next(iter(series_of(table(spec, "http_request_duration_seconds_count")).values()))
    rate = np.diff(vals)
    assert rate.std() > 0 and len(np.unique(rate)) > len(rate) // 4, "noise"
    # a full day: the busiest hour clearly above the quietest
    from seeder.spec import build_spec
    day = build_spec("tiny", end_time="2026-11-01T00:00:00Z", days=1.0, metrics=("http_requests_total",))
    _ts, vals = next(iter(series_of(table(day, "http_requests_total")).values()))
    hourly = np.add.reduceat(np.diff(vals).clip(min=0), np.arange(0, len(vals) - 1, 120))
    assert hourly.max() > 1.5 * hourly.min()
