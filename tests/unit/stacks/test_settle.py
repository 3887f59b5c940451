"""The local stack's settle wait: data counts from the manifest, compaction quiescence, and a
timeout that names what is missing (against a real, empty Prometheus)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from fixtures.common.errors import WaitTimeout
from fixtures.promql.client import PromClient
from fixtures.stacks.settle import HEAD_COMPACTABLE_MS, data_problem, settle_problem, tsdb_state, wait_settled
from seeder.manifest import SeedManifest

END_MS = 1_793_491_200_000


def manifest(metrics: dict[str, dict[str, object]]) -> SeedManifest:
    return SeedManifest(spec={}, seed=1, start_ms=END_MS - 3_600_000, end_ms=END_MS, interval_ms=60_000,
                        metrics={k: {"type": "gauge", **v} for k, v in metrics.items()})


def test_settle_rule() -> None:
    quiet = {"prometheus_tsdb_compactions_total": 3.0, "prometheus_tsdb_head_min_time": 0.0,
             "prometheus_tsdb_head_max_time": float(HEAD_COMPACTABLE_MS)}
    assert settle_problem(quiet, None) is not None  # needs two probes
    assert settle_problem(quiet, dict(quiet)) is None
    moved = {**quiet, "prometheus_tsdb_compactions_total": 4.0}
    assert "compactions_total" in str(settle_problem(moved, quiet))
    wide = {**quiet, "prometheus_tsdb_head_max_time": float(HEAD_COMPACTABLE_MS + 1)}
    assert "head spans" in str(settle_problem(wide, wide))


def test_real_prometheus_exposes_the_state_read(prometheus: str) -> None:
    state = tsdb_state(prometheus)
    assert {"prometheus_tsdb_compactions_total", "prometheus_tsdb_head_min_time",
            "prometheus_tsdb_head_max_time"} <= set(state)


def test_missing_data_is_named_and_times_out(prometheus: str) -> None:
    client = PromClient(prometheus)
    m = manifest({"node_load1": {"series": 2, "samples": 120}})
    assert data_problem(client, m) == "node_load1: 0 series / 0 samples, the manifest says 2 / 120"
    with pytest.raises(WaitTimeout, match=r"did not settle .* last: node_load1: 0 series"):
        wait_settled(client, m, timeout=1.0, interval=0.2)
    wait_settled(client, manifest({}), timeout=10.0, interval=0.2)  # nothing expected: settles


def _otlp_manifest() -> SeedManifest:
    m = manifest({"node_load1": {"series": 1, "samples": 60, "slices": {"main": 0, "otlp": 1}}})
    m.otlp = {"cluster": "otlp-0", "start_ms": END_MS - 3_600_000, "end_ms": END_MS}
    return m


def test_otlp_presence_probe_on_an_empty_target(prometheus: str) -> None:
    from fixtures.promql.otlp_slice import otlp_presence_problem

    problem = otlp_presence_problem(PromClient(prometheus), _otlp_manifest())
    assert problem is not None and "curl" in problem
    assert 'count(node_load1{cluster="otlp-0"}) is empty' in problem
    no_slice = otlp_presence_problem(PromClient(prometheus), manifest({}))
    assert no_slice == "the seed manifest records no OTLP slice"


@pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not on PATH (apt install prometheus)")
def test_otlp_presence_probe_on_a_target_holding_the_slice(tmp_path: Path) -> None:
    from fixtures.promql.otlp_slice import otlp_presence_problem
    from fixtures.stacks.prometheus_proc import PrometheusProcess, backfill_openmetrics

    om = tmp_path / "otlp.om"
    lines = ["# TYPE node_load1 gauge"]
    lines += [f'node_load1{{cluster="otlp-0"}} 1 {(END_MS - 3_600_000) // 1000 + 60 * i}' for i in range(60)]
    om.write_text("\n".join(lines) + "\n# EOF\n")
    backfill_openmetrics([om], tmp_path / "data")
    with PrometheusProcess(data_dir=tmp_path / "data") as prom:
        assert otlp_presence_problem(PromClient(prom.url), _otlp_manifest()) is None
