"""Grafana: datasources healthy, dashboard provisioned, and every panel query as a panel sends it.

Each target goes to Grafana's query API (``/api/ds/query``) the way the dashboard's panel sends it
when the dashboard loads: the dashboard variables expanded by the frontend (the selections the
harness's grafana-mode replay made, options fetched from the datasource), the built-ins
(``$__interval``, ``$__rate_interval``, ``$__range``...) left for Grafana's backend, no forced step
(the target's own Min step only), the frontend's ``intervalMs`` and ``maxDataPoints`` for the panel
width and the dashboard's own time range ending at the seeded end. Then:

- Grafana's backend must have chosen the harness's step and expansion: every frame's
  ``executedQueryString`` is ``Expr: <the harness's expanded expression>\\nStep: <its step>``;
- its alignment: the timestamps Grafana returns are exactly those of the direct query at the
  harness's aligned start, end and step;
- its answer equals that direct query to MyTSDB (values within MyTSDB's 6 decimals).

Each variable's label-values request, sent through the datasource's resource proxy as the
frontend sends it, must give what the replay's own fetch from MyTSDB gave (or fail where it failed).

These tests need a real Grafana (``--stack kind`` or a kept cluster); without one they skip.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.cluster_plugin import Cluster
from fixtures.common.config import HarnessConfig
from fixtures.kube import apply as ka
from fixtures.promql.client import PromClient
from fixtures.promql.dashboards import Dashboard, Variable, discover_dashboards
from fixtures.promql.grafana_mode import GrafanaSession, datasource_for, load_datasources, variable_options
from fixtures.promql.replay import CaseSpec, build_grafana_query, collect_cases, collect_variable_checks
from fixtures.promql.variables import go_duration, interpolate
from tests.e2e.helpers import (
    Grafana,
    executed_queries,
    frames_to_series,
    panel_query_body,
    prom_to_series,
    series_diff,
)

pytestmark = pytest.mark.cluster
MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
DATASOURCES = ("mytsdb", "reference")  # fixed uids in manifests/grafana/datasources.yaml
CASES = collect_cases(MANIFESTS, ["grafana"])
VARIABLES = collect_variable_checks(MANIFESTS)


@pytest.fixture(scope="session")
def grafana(harness_config: HarnessConfig, cluster: Cluster) -> Grafana:
    if "grafana" in harness_config.without:
        pytest.skip("Grafana not deployed (--without grafana)")
    e = cluster.endpoints
    if not e.grafana_url:
        pytest.skip("this stack exposes no Grafana URL (pass --grafana-url for --stack endpoints)")
    auth = e.grafana_auth
    if auth is None:  # a kept cluster reached through --stack endpoints: read the generated Secret
        [namespace] = ka.secret_namespaces(ka.load_documents(MANIFESTS))
        auth = ka.grafana_credentials(cluster.core.read_namespaced_secret(ka.GRAFANA_SECRET, namespace))
    return Grafana(e.grafana_url, auth)


@pytest.fixture(scope="session")
def replay(cluster: Cluster, target: PromClient, reference: PromClient) -> GrafanaSession:
    """The harness's grafana-mode replay on this cluster (variables fetched once per dashboard)."""
    return GrafanaSession(target, reference, cluster.endpoints.manifest, load_datasources(MANIFESTS))


@pytest.mark.parametrize("uid", DATASOURCES)
def test_datasource_health_is_ok(grafana: Grafana, uid: str) -> None:
    health = grafana.get(f"/api/datasources/uid/{uid}/health")
    assert health.get("status") == "OK", health


def test_dashboards_are_provisioned(grafana: Grafana) -> None:
    for dash in discover_dashboards(MANIFESTS):
        assert dash.uid, f"{dash.source}: the dashboard needs a fixed uid"
        served = grafana.get(f"/api/dashboards/uid/{dash.uid}")["dashboard"]
        assert served["title"] == dash.title
        assert served.get("time") == {"from": dash.time_from, "to": dash.time_to}
        served_ids = sorted(p.get("id") for p in served.get("panels", []) if p.get("type") != "row")
        raw_ids = sorted(p.get("id") for p in dash.raw.get("panels", []) if p.get("type") != "row")
        assert served_ids == raw_ids


def test_provisioned_datasource_has_the_scrape_interval_the_replay_uses(grafana: Grafana) -> None:
    # the replay reads jsonData.timeInterval from manifests/; Grafana must serve the same value
    for uid, ds in ((u, load_datasources(MANIFESTS)[u]) for u in DATASOURCES):
        served = grafana.get(f"/api/datasources/uid/{uid}")
        assert (served.get("jsonData") or {}).get("timeInterval") == ds.time_interval, served


@pytest.mark.parametrize("case", CASES, ids=[c.case_id for c in CASES])
def test_panel_query_through_grafana_matches_the_replay(grafana: Grafana, target: PromClient,
                                                        replay: GrafanaSession, case: CaseSpec) -> None:
    resolved = replay.resolve(case.dashboard)
    assert resolved.error is None, f"{case.case_id}: cannot fill the dashboard's variables: {resolved.error}"
    values = resolved.values
    query = build_grafana_query(case, replay.now_ms, values, replay.datasources)
    t = query.timing
    instant = case.mode == "instant"
    ds = datasource_for(case.dashboard, case.panel, case.target, replay.datasources)
    assert ds is not None, f"{case.case_id}: no provisioned datasource for this panel"
    frontend_expr = interpolate(case.target.expr, values)  # dashboard variables only; built-ins stay
    body = panel_query_body(ds.uid, frontend_expr, start_ms=t.start_ms, end_ms=t.end_ms, instant=instant,
                            interval=interpolate(case.target.interval, values), interval_ms=t.interval_ms,
                            max_data_points=query.max_data_points)
    result = grafana.post_query(body)
    assert not result.get("error"), f"Grafana error for {frontend_expr!r}: {result.get('error')}"
    assert result.get("frames"), f"{case.case_id}: no frames through Grafana (must not be empty)"
    executed = executed_queries(result)
    want = f"Expr: {query.expr}\nStep: {go_duration(t.step_ms)}"
    assert executed == {want}, (f"{case.case_id}: Grafana's backend expanded or stepped differently\n"
                                f"  sent:    {frontend_expr}\n  harness: {want!r}\n"
                                f"  grafana: {sorted(executed)!r}")
    via_grafana = frames_to_series(result)
    if instant:
        direct = target.instant(query.expr, t.instant_ms / 1000)
    else:
        direct = target.range(query.expr, t.aligned_start_ms / 1000, t.aligned_end_ms / 1000,
                              t.step_ms / 1000)
    direct.raise_for_error()
    problems = series_diff(via_grafana, prom_to_series(direct.result))
    assert not problems, (f"{case.case_id}: {query.expr}\n  direct: {direct.request.curl()}\n  "
                          + "\n  ".join(problems[:10]))


@pytest.mark.parametrize("variable_check", VARIABLES, ids=[f"{d.name}/${v.name}" for d, v in VARIABLES])
def test_variable_options_through_grafana_match_the_replay(
        grafana: Grafana, replay: GrafanaSession, variable_check: tuple[Dashboard, Variable]) -> None:
    dash, var = variable_check
    resolved = replay.resolve(dash)
    fetch = next((f for f in resolved.fetches if f.variable == var.name), None)
    assert fetch is not None, f"{dash.name}/${var.name}: not fetched by the replay: {resolved.error}"
    ds = datasource_for(dash, None, None, replay.datasources, variable=var)
    assert ds is not None, f"{fetch.check_id}: no provisioned datasource for this variable"
    params = [("match[]", fetch.match)] if fetch.match else []
    params += [("start", str(fetch.start_s)), ("end", str(fetch.end_s))]
    status, body = grafana.resource(ds.uid, f"/api/v1/label/{fetch.label}/values", params)
    ok = isinstance(body, dict) and body.get("status") == "success"
    if fetch.target_values is None:  # MyTSDB refused it directly: through Grafana too (an empty dropdown)
        assert not ok, f"{fetch.check_id}: Grafana got options where the direct request failed: {body}"
        return
    assert ok, f"{fetch.check_id}: HTTP {status} through Grafana: {body}; direct: {fetch.curl_target}"
    got = variable_options([str(v) for v in body.get("data") or []], var.regex, var.sort)
    assert got == fetch.target_values, (f"{fetch.check_id}: through Grafana {got}, "
                                        f"direct {fetch.target_values}")
