"""Replay cases: readable ids, Grafana-faithful expansion from a manifest, and every expression
of every dashboard under manifests/ parses with promql-parser after expansion."""

from __future__ import annotations

from pathlib import Path

import promql_parser
import pytest

from fixtures.promql.dashboards import discover_dashboards, load_dashboards
from fixtures.promql.replay import build_query, cases_for, collect_cases
from seeder.manifest import SeedManifest

DATA = Path(__file__).parents[1] / "data"
ROOT = Path(__file__).parents[3]
END_MS = 1_793_491_200_000
DIMENSIONS = {d: [f"{d}-0", f"{d}-1"] for d in (
    "region", "zone", "cluster", "namespace", "app", "service", "deployment", "pod", "container", "node",
    "instance", "job", "phase", "mode", "code", "method", "le", "cpu")}


def fake_manifest() -> SeedManifest:
    """A manifest shaped like the seeder's (values are made up; only the shape matters here)."""
    return SeedManifest(
        spec={"preset": "tiny"}, seed=42, start_ms=END_MS - 24 * 3_600_000, end_ms=END_MS, interval_ms=60_000,
        metrics={"container_cpu_usage_seconds_total": {"type": "counter", "labels": ["cluster", "pod"]}},
        label_values={**DIMENSIONS, "cluster": ["eu-1", "us-1"], "namespace": ["default", "kube-system"],
                      "pod": ["api-0", "web.1"]},
        otlp={"cluster": "otlp-0", "start_ms": END_MS - 3_600_000, "end_ms": END_MS,
              "label_values": {**DIMENSIONS, "namespace": ["shop"], "pod": ["cart-0"]}},
    )


def test_case_ids_are_readable_and_unique() -> None:
    specs = cases_for(load_dashboards(DATA / "dashboard-replay.json"))
    ids = [s.case_id for s in specs]
    assert len(ids) == len(set(ids))
    assert "replay/CPU by pod/range/slice-arrow" in ids
    assert "replay/Pods#C/instant/slice-otlp" in ids
    assert not any("#B" in i for i in ids)  # hidden target: Grafana does not run it
    slice_ids = [s.case_id for s in specs if s.replay == "slice"]
    assert len(slice_ids) == 4 * 4  # 4 visible targets x {instant, range} x {arrow, otlp}
    # grafana mode: the query types each target asks for (instant only where it says so, else range)
    grafana = sorted(s.case_id for s in specs if s.replay == "grafana")
    assert grafana == ["replay/CPU by pod/range/grafana", "replay/Memory | node/range/grafana",
                       "replay/Pods#A/instant/grafana", "replay/Pods#C/range/grafana"]
    assert all(s.source == "grafana" for s in specs if s.replay == "grafana")


def _case(case_id: str):
    specs = {s.case_id: s for s in cases_for(load_dashboards(DATA / "dashboard-replay.json"))}
    return specs[case_id]


def test_arrow_source_uses_all_main_slice_values() -> None:
    q = build_query(_case("replay/CPU by pod/range/slice-arrow"), fake_manifest())
    # 6 h window, 1000 points, 60 s scrape: step 60 s, rate interval max(60+60, 240) s.
    assert q.expr == ('sum by (pod) (rate(container_cpu_usage_seconds_total{cluster=~"(eu-1|us-1)", '
                      'namespace="kube-system"}[4m0s]))')
    assert q.timing.step_ms == 60_000
    assert q.timing.aligned_end_ms == END_MS - 3_600_000  # manifest.query_time(): end minus one hour


def test_otlp_source_pins_the_otlp_cluster_and_its_values() -> None:
    q = build_query(_case("replay/CPU by pod/range/slice-otlp"), fake_manifest())
    assert 'cluster=~"otlp-0"' in q.expr
    # namespace's saved value (kube-system) is not in the OTLP slice: Grafana falls back to the first option
    assert 'namespace="shop"' in q.expr


def test_panel_min_interval_and_custom_variables() -> None:
    q = build_query(_case("replay/Pods#C/range/slice-arrow"), fake_manifest())
    # panel maxDataPoints 100: 6 h / 100 = 216 s -> rounded 5 m, above the panel min interval 2 m
    assert q.timing.step_ms == 300_000
    assert q.expr == "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"


@pytest.mark.parametrize("source", ["arrow", "otlp"])
def test_every_expanded_expression_parses(source: str) -> None:
    dashboards = discover_dashboards(ROOT / "manifests") + load_dashboards(DATA / "dashboard-replay.json")
    specs = [s for s in cases_for(dashboards) if s.source == source and s.mode == "range"]
    assert specs
    bad = []
    for spec in specs:
        expr = build_query(spec, fake_manifest()).expr
        try:
            promql_parser.parse(expr)
        except ValueError as exc:
            bad.append(f"{spec.case_id}: {expr}: {exc}")
    assert not bad, "\n".join(bad)


def test_collect_cases_on_missing_dir_is_empty(tmp_path: Path) -> None:
    assert collect_cases(tmp_path / "nope") == []


def _inline(expr: str, *, interval: str = "", variables: list[dict] | None = None) -> list:
    from fixtures.promql.dashboards import parse_dashboard

    target = {"refId": "A", "expr": expr, "interval": interval}
    panel = {"id": 1, "type": "timeseries", "title": "P", "targets": [target]}
    dash = parse_dashboard({"title": "inline", "templating": {"list": variables or []}, "panels": [panel]},
                           "inline", "test")
    return cases_for([dash])


def test_target_min_step_is_templated_before_the_step_math() -> None:
    # applyTemplateVariables: interval = templateSrv.replace(target.interval); "$res" -> 10m
    res = {"name": "res", "type": "interval", "query": "1m,5m,10m", "current": {"value": "10m"}}
    spec = next(c for c in _inline("rate(x[$__interval])", interval="$res", variables=[res])
                if c.mode == "range" and c.source == "arrow")
    q = build_query(spec, fake_manifest())
    assert q.timing.step_ms == 600_000 and q.expr == "rate(x[10m])"


def test_every_otlp_case_of_the_shipped_dashboards_isolates_the_otlp_slice() -> None:
    from fixtures.promql.otlp_slice import otlp_isolation_problem

    manifest = fake_manifest()
    specs = [s for s in cases_for(discover_dashboards(ROOT / "manifests")) if s.source == "otlp"]
    assert specs
    problems = [f"{s.case_id}: {p}" for s in specs if (p := otlp_isolation_problem(
        build_query(s, manifest).expr, "otlp-0", manifest.label_values["cluster"]))]
    assert not problems, "\n".join(problems)


def test_otlp_case_that_cannot_isolate_the_slice_is_skipped_with_the_reason() -> None:
    from fixtures.promql.client import PromClient
    from fixtures.promql.replay import SKIP, run_case

    dead = PromClient("http://127.0.0.1:9", timeout=1)  # must not be asked at all
    spec = next(c for c in _inline("sum(up)") if c.source == "otlp")
    result = run_case(spec, dead, dead, fake_manifest())
    assert result.status == SKIP and "does not isolate the OTLP slice" in result.diff and "up" in result.diff
    spec = next(c for c in _inline('sum(up{cluster=~".+"})') if c.source == "otlp")
    assert run_case(spec, dead, dead, fake_manifest()).status == SKIP
    no_otlp = fake_manifest()
    no_otlp.otlp = None
    spec = next(c for c in _inline('sum(up{cluster="otlp-0"})') if c.source == "otlp")
    result = run_case(spec, dead, dead, no_otlp)
    assert result.status == SKIP and result.diff == "the seed manifest records no OTLP slice"


def test_otlp_isolation_rule() -> None:
    from fixtures.promql.otlp_slice import otlp_isolation_problem

    main = ["prod-a", "prod-b"]
    assert otlp_isolation_problem('x{cluster="otlp-0"} / y{cluster=~"otlp-0"}', "otlp-0", main) is None
    assert otlp_isolation_problem('x{cluster!~"prod-.*"}', "otlp-0", main) is None
    assert otlp_isolation_problem('x{cluster=~"otlp-0|prod-a"}', "otlp-0", main) is not None
    assert otlp_isolation_problem('x{cluster="otlp-0"} + y', "otlp-0", main) is not None
