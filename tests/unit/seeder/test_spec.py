"""SeedSpec: presets, knob validation, --target-samples solver, end-time parsing."""

from __future__ import annotations

import dataclasses

import pytest

from seeder import catalog
from seeder.errors import SpecError
from seeder.spec import PRESETS, SeedSpec, build_spec, parse_end_time
from tests.unit.support.seeder import END, END_MS


def test_seed_20m_preset_is_seven_days_at_most_60s_and_within_5_percent_of_20m() -> None:
    spec = build_spec("seed-20m", end_time=END)
    assert spec.days == 7 and spec.scrape_interval <= 60
    assert abs(spec.samples_total() - 20_000_000) <= 0.05 * 20_000_000
    # the dashboard's [5m] windows must hold several samples
    assert 300 // spec.scrape_interval >= 4


def test_tiny_preset_is_small_and_holds_every_catalog_metric() -> None:
    spec = build_spec("tiny", end_time=END)
    assert spec.samples_total() < 500_000
    assert set(spec.series_by_metric()) == set(catalog.METRICS)
    assert all(n > 0 for n in spec.series_by_metric().values())
    assert spec.clusters >= 2, "multi-value cluster variables need two clusters"


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_validates(preset: str) -> None:
    spec = build_spec(preset, end_time=END)
    assert spec.preset == preset and spec.samples_total() > 0


def test_catalog_covers_the_metrics_the_issue_requires() -> None:
    required = {
        "container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
        "container_network_receive_bytes_total", "container_network_transmit_bytes_total",
        "container_fs_reads_bytes_total", "container_fs_writes_bytes_total", "node_cpu_seconds_total",
        "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes", "http_requests_total",
        "http_request_duration_seconds_bucket", "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count", "kube_pod_status_phase",
        "kube_pod_container_status_restarts_total",
    }
    assert required <= set(catalog.METRICS)
    assert any(m.startswith("process_") for m in catalog.METRICS)


@pytest.mark.parametrize(("knobs", "flag"), [
    ({"days": 0}, "--days"), ({"days": -1.0}, "--days"), ({"days": 500}, "--days"),
    ({"scrape_interval": 0}, "--scrape-interval"), ({"scrape_interval": 1.5}, "--scrape-interval"),
    ({"regions": 0}, "--regions"), ({"zones_per_region": 7}, "--zones-per-region"),
    ({"pods_per_service": 0}, "--pods-per-service"), ({"containers_per_pod": 99}, "--containers-per-pod"),
    ({"namespaces": "3"}, "--namespaces"), ({"metrics": ("no_such_metric",)}, "--metrics"),
    ({"seed": -1}, "--seed"), ({"otlp_hours": 100.0}, "--otlp-hours"), ({"otlp_hours": -1.0}, "--otlp-hours"),
    ({"otlp_cluster": "Bad Name"}, "--otlp-cluster"), ({"otlp_cluster": "prod-x"}, "--otlp-cluster"),
    ({"days": 0.0001, "scrape_interval": 60}, "--days"),
])
def test_bad_knobs_raise_a_one_line_spec_error_naming_the_knob(knobs: dict, flag: str) -> None:
    with pytest.raises(SpecError) as err:
        build_spec("tiny", end_time=END, **knobs)
    assert str(err.value).startswith(flag) and "\n" not in str(err.value)


def test_unknown_preset_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="--preset: unknown preset 'huge'"):
        build_spec("huge", end_time=END)


@pytest.mark.parametrize(("text", "ms"), [
    ("2026-11-01T00:00:00Z", END_MS), ("2026-11-01T01:00:00+01:00", END_MS), (str(END_MS // 1000), END_MS),
    ("2026-11-01T00:00:29Z", END_MS), (END_MS / 1000 + 0.5, END_MS),
])
def test_end_time_accepts_unix_seconds_and_rfc3339_floored_to_interval(text: str | float, ms: int) -> None:
    assert parse_end_time(text, 30) == ms


def test_end_time_defaults_to_now_floored_to_the_interval() -> None:
    assert parse_end_time(None, 60, now=END_MS / 1000 + 59.9) == END_MS


@pytest.mark.parametrize("text", ["yesterday", "2026-11-01T00:00:00", "2026-13-01T00:00:00Z", "-5"])
def test_bad_end_times_are_spec_errors(text: str) -> None:
    with pytest.raises(SpecError, match="--end-time"):
        parse_end_time(text, 60)


@pytest.mark.parametrize("target", [700_000, 3_000_000, 12_345_678, 50_000_000, 300_000_000])
def test_target_samples_solver_lands_within_5_percent(target: int) -> None:
    spec = build_spec("small", end_time=END, target_samples=target)
    assert abs(spec.samples_total() - target) <= 0.05 * target


def test_target_samples_solver_keeps_explicit_knobs() -> None:
    spec = build_spec("small", end_time=END, target_samples=8_000_000, pods_per_service=2, namespaces=3)
    assert (spec.pods_per_service, spec.namespaces) == (2, 3)
    assert abs(spec.samples_total() - 8_000_000) <= 0.05 * 8_000_000


def test_target_samples_solver_refuses_an_unreachable_target() -> None:
    with pytest.raises(SpecError, match="--target-samples: cannot get within 5%"):
        build_spec("tiny", end_time=END, target_samples=10)


def test_metrics_subset_only_counts_those_metrics() -> None:
    spec = build_spec("tiny", end_time=END, metrics=("http_requests_total", "node_cpu_seconds_total"))
    assert set(spec.series_by_metric()) == {"http_requests_total", "node_cpu_seconds_total"}


def test_spec_round_trips_through_its_dict() -> None:
    spec = build_spec("tiny", end_time=END, metrics=("process_open_fds",), jitter=True, seed=7)
    assert SeedSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(SpecError):
        SeedSpec.from_dict({**spec.to_dict(), "days": -2})
    assert dataclasses.is_dataclass(spec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.days = 3  # type: ignore[misc]


def test_a_window_starting_before_1970_is_refused() -> None:
    with pytest.raises(SpecError, match=r"--end-time: .*before 1970"):
        build_spec("seed-20m", end_time="1970-01-03T00:00:00Z")


def test_topologies_too_big_to_build_are_refused_and_the_solver_stays_inside() -> None:
    from seeder.spec import MAX_PODS

    with pytest.raises(SpecError, match="--pods-per-service: the topology has 614400 pods"):
        build_spec("tiny", end_time=END, regions=16, zones_per_region=6, clusters_per_zone=16, namespaces=200)
    spec = build_spec("tiny", end_time=END, days=1.0, target_samples=10**10)
    assert spec.pods <= MAX_PODS and abs(spec.samples_total() - 10**10) <= 0.05 * 10**10
